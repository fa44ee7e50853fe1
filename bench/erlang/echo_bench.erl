%% Erlang's remote gen_server:call between two nodes on this machine, timed the way
%% bench/remote_bench.ts times a Troupe remote ask: sequential calls, one in flight, the median
%% round trip. Driven by bench/erlang_call.ts (erlc compiles this; two `erl -sname` nodes).
-module(echo_bench).
-behaviour(gen_server).
-export([server/0, client/2]).
-export([init/1, handle_call/3, handle_cast/2]).

%% On the peer node: the echo server, registered as `echo`; prints READY once up.
server() ->
    {ok, _} = gen_server:start({local, echo}, ?MODULE, [], []),
    io:format("READY~n"),
    receive stop -> ok end.

init([]) -> {ok, nostate}.
handle_call(Msg, _From, State) -> {reply, Msg, State}.
handle_cast(_Msg, State) -> {noreply, State}.

%% On the client node: Count sequential calls to `echo` on Peer after a warm-up of 20,000 calls
%% (as many as bench/remote_bench.ts warms a Troupe ask up with); prints one JSON line with the
%% median and p90 round trip in microseconds.
client(Peer, Count) ->
    true = net_kernel:connect_node(Peer),
    Payload = binary:copy(<<"x">>, 32),
    [gen_server:call({echo, Peer}, Payload) || _ <- lists:seq(1, 20000)],
    Times = [begin
                 T0 = erlang:monotonic_time(nanosecond),
                 Payload = gen_server:call({echo, Peer}, Payload),
                 erlang:monotonic_time(nanosecond) - T0
             end || _ <- lists:seq(1, Count)],
    Sorted = lists:sort(Times),
    Median = lists:nth(Count div 2 + 1, Sorted),
    P90 = lists:nth((Count * 9) div 10, Sorted),
    io:format("{\"bench\":\"erlang-call\",\"otp\":\"~s\",\"medianUs\":~.2f,\"p90Us\":~.2f}~n",
              [erlang:system_info(otp_release), Median / 1000, P90 / 1000]).

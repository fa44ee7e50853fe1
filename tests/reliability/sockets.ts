// The TCP connections of a process, read from outside it (Linux /proc): the socket inodes among
// its open file descriptors (/proc/<pid>/fd), matched with the kernel's TCP tables
// (/proc/<pid>/net/tcp and tcp6, which are those of the process's network namespace). The soak
// uses it to count each node's connections by what is at the other end.
import { readdir, readFile, readlink } from "node:fs/promises";

/** One TCP socket of a process. */
export interface TcpSocket {
  /** `ip:port` of this end. */
  readonly local: string;
  /** `ip:port` of the other end (`0.0.0.0:0` for a listener). */
  readonly remote: string;
  /** The kernel's state name (`ESTABLISHED`, `LISTEN`, `CLOSE_WAIT`, …). */
  readonly state: string;
}

/** A process's sockets: every socket descriptor, and those of them the TCP tables know. */
export interface ProcessSockets {
  /** Open descriptors that are sockets of any kind (TCP, UDP, Unix, or a TCP socket that was reset and left the tables but was never closed). */
  readonly descriptors: number;
  /** Its TCP sockets, listeners included. */
  readonly tcp: readonly TcpSocket[];
}

const STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/** `0100007F:1F90` (little-endian IPv4) or a 32-digit IPv6 word list → `ip:port`. */
function endpoint(hex: string): string {
  const [address, port] = hex.split(":");
  const p = parseInt(port, 16);
  if (address.length === 8) {
    const bytes = address.match(/../g)!.map((b) => parseInt(b, 16)).reverse();
    return `${bytes.join(".")}:${p}`;
  }
  // IPv6: four 32-bit words, each little-endian. An IPv4-mapped address is shown as IPv4.
  const words = address.match(/.{8}/g)!.map((w) =>
    w.match(/../g)!.reverse().join("")
  );
  const hexed = words.join("").toLowerCase();
  if (hexed.startsWith("00000000000000000000ffff")) {
    const v4 = hexed.slice(24).match(/../g)!.map((b) => parseInt(b, 16));
    return `${v4.join(".")}:${p}`;
  }
  return `[${hexed.match(/.{4}/g)!.join(":")}]:${p}`;
}

/**
 * Parses a /proc/net/tcp or tcp6 table.
 *
 * @param table The file's text.
 * @returns The sockets by inode.
 */
export function parseTcpTable(table: string): Map<string, TcpSocket> {
  const sockets = new Map<string, TcpSocket>();
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    sockets.set(fields[9], {
      local: endpoint(fields[1]),
      remote: endpoint(fields[2]),
      state: STATES[fields[3]] ?? fields[3],
    });
  }
  return sockets;
}

/**
 * The sockets of process `pid`.
 *
 * @param pid The process.
 * @returns Its sockets, or `undefined` when it is gone or /proc cannot be read (not Linux).
 */
export async function socketsOf(
  pid: number,
): Promise<ProcessSockets | undefined> {
  try {
    const inodes: string[] = [];
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match !== null) inodes.push(match[1]);
    }
    const tables = new Map<string, TcpSocket>();
    for (const file of ["tcp", "tcp6"]) {
      const text = await readFile(`/proc/${pid}/net/${file}`, "utf8").catch(
        () => "",
      );
      for (const [inode, socket] of parseTcpTable(text)) {
        tables.set(inode, socket);
      }
    }
    return {
      descriptors: inodes.length,
      tcp: inodes.flatMap((i) => tables.has(i) ? [tables.get(i)!] : []),
    };
  } catch {
    return undefined;
  }
}

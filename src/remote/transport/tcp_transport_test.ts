// The transport conformance suite over the platform's TCP, plain and TLS.
import {
  LOCALHOST_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY,
} from "../../../tests/fixtures/tls/localhost.ts";
import { runTransportConformance } from "./_conformance_test.ts";
import { tcpTransport } from "./mod.ts";

runTransportConformance("tcp", () => ({
  transport: tcpTransport,
  listen: { hostname: "127.0.0.1", port: 0 },
  connect: (addr) => ({ hostname: "127.0.0.1", port: addr.port }),
}));

runTransportConformance("tls", () => ({
  transport: tcpTransport,
  listen: {
    hostname: "127.0.0.1",
    port: 0,
    tls: {
      certificate: LOCALHOST_CERTIFICATE,
      privateKey: LOCALHOST_PRIVATE_KEY,
    },
  },
  connect: (addr) => ({
    hostname: "127.0.0.1",
    port: addr.port,
    tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
  }),
}));

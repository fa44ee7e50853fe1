// Discovery of Kubernetes pods by label, read from the API server with the pod's service-account
// token, as coerce-k8s does.
//
// WHAT WAS AND WAS NOT TRIED (no Kubernetes cluster can run where this was written):
// - Tried: the request and the parsing against a local HTTPS server (the test's own, with a
//   self-signed test certificate as the cluster CA) that serves PodList, Status (401, 403, 410)
//   and error bodies written after the Kubernetes API reference (core/v1 PodList, ListMeta with
//   `continue`, meta/v1 Status), in testdata/; paging with `limit`/`continue`; the token,
//   namespace and CA read from files laid out like the service-account mount; timeouts, aborts,
//   random bytes and random JSON as bodies; the API server's address from
//   KUBERNETES_SERVICE_HOST/PORT (set by the test to the local server); under Deno and Node.
// - Not tried: a real API server (its TLS setup, HTTP/2, chunked or gzip-encoded answers from a
//   real kube-apiserver), real RBAC, token rotation by the kubelet (the token file is read
//   again on every call, so a rotated token is picked up), dual-stack pods (only `podIP`, the
//   primary address, is used), an IPv6 KUBERNETES_SERVICE_HOST, and the real mounted
//   service-account volume (the tests point the paths at files laid out like it).
import { platform } from "../../platform/mod.ts";
import type { DiscoveredNode, Discovery } from "../discovery.ts";
import {
  ClusterClosedError,
  DiscoveryForbiddenError,
  DiscoveryResponseError,
  DiscoveryUnavailableError,
} from "../errors.ts";
import { formatNodeAddress, parseNodeAddress } from "./static_seeds.ts";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const PROVIDER = "kubernetes";
/** Pages followed at most in one lookup (with the default page size, 500000 pods). */
const MAX_PAGES = 1000;

/** Options of {@linkcode KubernetesDiscovery}. */
export interface KubernetesDiscoveryOptions {
  /** The pods to find, as a label selector, for example `"app=orders"`. Required. */
  readonly labelSelector: string;
  /**
   * The name of the container port that Troupe listens on (default `"troupe"`), looked up in
   * each pod's `spec.containers[].ports[]` (TCP only). Ignored when `port` is given.
   */
  readonly portName?: string;
  /** The port number to use for every pod, instead of looking up `portName`. */
  readonly port?: number;
  /** The namespace to look in (default: the pod's own, read from `namespacePath`). */
  readonly namespace?: string;
  /**
   * The API server's URL (default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
   * the variables Kubernetes sets in every container).
   */
  readonly apiServer?: string;
  /** The service-account token file (default `/var/run/secrets/kubernetes.io/serviceaccount/token`). */
  readonly tokenPath?: string;
  /** The cluster CA certificate file (default `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`). */
  readonly caPath?: string;
  /** The namespace file (default `/var/run/secrets/kubernetes.io/serviceaccount/namespace`). */
  readonly namespacePath?: string;
  /** How long one lookup may take, all pages together, in ms (default 10000). */
  readonly timeoutMs?: number;
  /** Pods asked for per page (`limit`, default 500). */
  readonly pageSize?: number;
}

interface Found {
  readonly address: string;
  readonly created: string;
  readonly name: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The message of a meta/v1 Status body, when the body is one. */
function statusMessage(body: Uint8Array): string | undefined {
  try {
    const status = JSON.parse(new TextDecoder().decode(body));
    return isObject(status) && typeof status.message === "string"
      ? status.message.slice(0, 500)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Discovery of Kubernetes pods selected by a label, read from the API server
 * (`GET /api/v1/namespaces/{namespace}/pods?labelSelector=…`, paged with `limit` and
 * `continue`) with the pod's service-account token and the cluster's CA, from the files
 * Kubernetes mounts in every pod. It returns the pods that are `Running`, `Ready` and not being
 * deleted, as `podIP:port`, oldest first. The token is read on every lookup, so a token the
 * kubelet rotates is picked up.
 *
 * The service account needs permission to list pods in the namespace (RBAC):
 *
 * ```yaml
 * kind: Role
 * apiVersion: rbac.authorization.k8s.io/v1
 * metadata: { name: troupe-discovery }
 * rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]
 * ```
 *
 * bound to it with a RoleBinding. Without it the API server answers 403 and `discover()`
 * rejects with `DiscoveryForbiddenError`, whose message says so.
 *
 * It was tested against recorded-looking API answers served by a local HTTPS server, never
 * against a real cluster; see the top of this file for exactly what was and was not tried.
 *
 * @example Usage (in a pod)
 * ```ts ignore
 * import { KubernetesDiscovery } from "@troupe/troupe/cluster";
 * const discovery = new KubernetesDiscovery({ labelSelector: "app=orders", portName: "troupe" });
 * console.log(await discovery.discover()); // [{ address: "10.244.1.17:4000" }, …]
 * await discovery.close();
 * ```
 */
export class KubernetesDiscovery implements Discovery {
  /** `"kubernetes"`. */
  readonly name: string = PROVIDER;
  readonly #options: KubernetesDiscoveryOptions;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  #closed = false;

  /**
   * Makes the provider; nothing is read until `discover()`.
   *
   * @param options What to find and where.
   * @throws {TypeError} When `labelSelector` is missing or empty, `portName` is empty, or
   * `apiServer` is not an `https:` URL.
   * @throws {RangeError} When `port`, `timeoutMs` or `pageSize` is out of range.
   */
  constructor(options: KubernetesDiscoveryOptions) {
    if (
      typeof options?.labelSelector !== "string" ||
      options.labelSelector.trim() === ""
    ) {
      throw new TypeError(
        'Cannot create KubernetesDiscovery: labelSelector is required (for example "app=orders")',
      );
    }
    if (options.portName !== undefined && options.portName === "") {
      throw new TypeError(
        "Cannot create KubernetesDiscovery: portName is empty",
      );
    }
    if (
      options.port !== undefined &&
      (!Number.isInteger(options.port) || options.port < 1 ||
        options.port > 65535)
    ) {
      throw new RangeError(
        `Cannot create KubernetesDiscovery: port must be 1 to 65535, got ${options.port}`,
      );
    }
    if (options.apiServer !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(options.apiServer);
      } catch {
        url = undefined;
      }
      if (url?.protocol !== "https:") {
        throw new TypeError(
          `Cannot create KubernetesDiscovery: apiServer must be an https: URL, got ${
            JSON.stringify(options.apiServer)
          }`,
        );
      }
    }
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError(
        `Cannot create KubernetesDiscovery: timeoutMs must be positive, got ${options.timeoutMs}`,
      );
    }
    this.#pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1) {
      throw new RangeError(
        `Cannot create KubernetesDiscovery: pageSize must be a positive integer, got ${options.pageSize}`,
      );
    }
    this.#options = options;
  }

  /**
   * Lists the ready pods.
   *
   * @param signal Aborts the lookup (it rejects with the signal's reason).
   * @returns The pods' addresses, oldest pod first.
   * @throws {DiscoveryForbiddenError} When the API server refuses the token (401) or the
   * service account may not list pods (403).
   * @throws {DiscoveryUnavailableError} When the files cannot be read, the API server cannot be
   * reached, does not answer within `timeoutMs`, or answers with another error status.
   * @throws {DiscoveryResponseError} When the answer is not a PodList.
   * @throws {ClusterClosedError} After close().
   */
  async discover(signal?: AbortSignal): Promise<DiscoveredNode[]> {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClusterClosedError("KubernetesDiscovery");
    const deadline = new AbortController();
    const timer = platform.setTimer(
      () =>
        deadline.abort(
          new DiscoveryUnavailableError(
            PROVIDER,
            `the API server did not answer within ${this.#timeoutMs} ms`,
          ),
        ),
      this.#timeoutMs,
    );
    const onAbort = () => deadline.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      // Rejects with the deadline's reason: the caller's, or the timeout's error.
      return await this.#lookup(deadline.signal);
    } finally {
      platform.clearTimer(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Closes the provider; later discover() calls reject. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async #lookup(signal: AbortSignal): Promise<DiscoveredNode[]> {
    const options = this.#options;
    const token = (await this.#read(
      options.tokenPath ?? `${SERVICE_ACCOUNT_DIR}/token`,
      "service-account token",
    )).trim();
    const ca = await this.#read(
      options.caPath ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`,
      "cluster CA certificate",
    );
    const namespace = options.namespace ?? (await this.#read(
      options.namespacePath ?? `${SERVICE_ACCOUNT_DIR}/namespace`,
      "namespace",
    )).trim();
    signal.throwIfAborted();
    const base = `${this.#apiServer()}/api/v1/namespaces/${
      encodeURIComponent(namespace)
    }/pods?labelSelector=${
      encodeURIComponent(options.labelSelector)
    }&limit=${this.#pageSize}`;
    const found: Found[] = [];
    let next: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = next === undefined
        ? base
        : `${base}&continue=${encodeURIComponent(next)}`;
      let response;
      try {
        response = await platform.httpsGet(url, {
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
          },
          caCertificates: [ca],
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new DiscoveryUnavailableError(
          PROVIDER,
          `cannot reach the API server at ${this.#apiServer()}: ${
            describe(error)
          }`,
          error,
        );
      }
      this.#checkStatus(response.status, response.body, namespace);
      next = this.#parsePage(response.body, found);
      if (next === undefined) break;
      if (page === MAX_PAGES - 1) {
        throw new DiscoveryResponseError(
          PROVIDER,
          `the pod list did not end after ${MAX_PAGES} pages`,
        );
      }
    }
    found.sort((a, b) =>
      a.created < b.created
        ? -1
        : a.created > b.created
        ? 1
        : a.name < b.name
        ? -1
        : a.name > b.name
        ? 1
        : 0
    );
    const seen = new Set<string>();
    const nodes: DiscoveredNode[] = [];
    for (const pod of found) {
      if (seen.has(pod.address)) continue;
      seen.add(pod.address);
      nodes.push({ address: pod.address });
    }
    return nodes;
  }

  #apiServer(): string {
    if (this.#options.apiServer !== undefined) {
      return this.#options.apiServer.replace(/\/+$/, "");
    }
    const host = platform.env("KUBERNETES_SERVICE_HOST");
    const port = platform.env("KUBERNETES_SERVICE_PORT");
    if (!host || !port) {
      throw new DiscoveryUnavailableError(
        PROVIDER,
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?); " +
          "pass the apiServer option",
      );
    }
    return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  async #read(path: string, what: string): Promise<string> {
    try {
      return await platform.readTextFile(path);
    } catch (error) {
      throw new DiscoveryUnavailableError(
        PROVIDER,
        `cannot read the ${what} at ${path} (not running in a pod, or the service account ` +
          `token is not mounted?): ${describe(error)}`,
        error,
      );
    }
  }

  #checkStatus(status: number, body: Uint8Array, namespace: string): void {
    if (status === 200) return;
    const message = statusMessage(body);
    const said = message === undefined
      ? ""
      : ` (the API server said: ${message})`;
    if (status === 401) {
      throw new DiscoveryForbiddenError(
        PROVIDER,
        status,
        `the API server refused the service-account token (401 Unauthorized)${said}; check ` +
          "that the token is mounted (automountServiceAccountToken) and current",
      );
    }
    if (status === 403) {
      throw new DiscoveryForbiddenError(
        PROVIDER,
        status,
        `the service account may not list pods in namespace "${namespace}" (403 Forbidden)${said}; ` +
          'RBAC must grant it the "list" verb on "pods" (a Role with apiGroups [""], resources ' +
          '["pods"], verbs ["list"], and a RoleBinding to the service account)',
      );
    }
    throw new DiscoveryUnavailableError(
      PROVIDER,
      `the API server answered ${status}${said}`,
    );
  }

  /** Adds the page's ready pods to `found`; returns the continue token, if any. */
  #parsePage(body: Uint8Array, found: Found[]): string | undefined {
    let list: unknown;
    try {
      list = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch (error) {
      throw new DiscoveryResponseError(
        PROVIDER,
        `the API server's answer is not JSON (${describe(error)})`,
        error,
      );
    }
    if (
      !isObject(list) || list.kind !== "PodList" || !Array.isArray(list.items)
    ) {
      throw new DiscoveryResponseError(
        PROVIDER,
        "the API server's answer is not a PodList",
      );
    }
    const metadata = list.metadata;
    if (metadata !== undefined && !isObject(metadata)) {
      throw new DiscoveryResponseError(
        PROVIDER,
        "the PodList's metadata is not an object",
      );
    }
    const next = metadata?.continue;
    if (next !== undefined && typeof next !== "string") {
      throw new DiscoveryResponseError(
        PROVIDER,
        "the PodList's continue token is not a string",
      );
    }
    for (const item of list.items) {
      if (!isObject(item)) {
        throw new DiscoveryResponseError(
          PROVIDER,
          "a PodList item is not an object",
        );
      }
      const pod = this.#readyPod(item);
      if (pod !== undefined) found.push(pod);
    }
    return next === "" ? undefined : next;
  }

  /** The pod's address when it is Running, Ready, not being deleted, and has the port. */
  #readyPod(pod: Record<string, unknown>): Found | undefined {
    const metadata = isObject(pod.metadata) ? pod.metadata : {};
    const status = isObject(pod.status) ? pod.status : {};
    const spec = isObject(pod.spec) ? pod.spec : {};
    if (metadata.deletionTimestamp != null) return undefined;
    if (status.phase !== "Running") return undefined;
    const ready = Array.isArray(status.conditions) &&
      status.conditions.some((c) =>
        isObject(c) && c.type === "Ready" && c.status === "True"
      );
    if (!ready || typeof status.podIP !== "string") return undefined;
    const port = this.#options.port ?? this.#namedPort(spec);
    if (port === undefined) return undefined;
    let address: string;
    try {
      address = formatNodeAddress(status.podIP, port);
      parseNodeAddress(address);
    } catch {
      return undefined;
    }
    return {
      address,
      created: typeof metadata.creationTimestamp === "string"
        ? metadata.creationTimestamp
        : "",
      name: typeof metadata.name === "string" ? metadata.name : "",
    };
  }

  #namedPort(spec: Record<string, unknown>): number | undefined {
    const name = this.#options.portName ?? "troupe";
    if (!Array.isArray(spec.containers)) return undefined;
    for (const container of spec.containers) {
      if (!isObject(container) || !Array.isArray(container.ports)) continue;
      for (const port of container.ports) {
        if (
          isObject(port) && port.name === name &&
          (port.protocol === undefined || port.protocol === "TCP") &&
          Number.isInteger(port.containerPort) &&
          (port.containerPort as number) >= 1 &&
          (port.containerPort as number) <= 65535
        ) {
          return port.containerPort as number;
        }
      }
    }
    return undefined;
  }
}

// The OpenAPI 3.1 document of the HTTP API, generated from the route table.
import { HTTP_REQUEST_ERROR_STATUS } from "./errors.ts";
import { ROUTES } from "./_routes.ts";

const MEDIA: Record<string, string> = {
  json: "application/json",
  text: "text/plain; version=0.0.4",
  html: "text/html",
  events: "text/event-stream",
};

const PROBLEM = {
  type: "object",
  required: ["type", "title", "status", "detail", "code"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    code: {
      type: "string",
      enum: Object.keys(HTTP_REQUEST_ERROR_STATUS).concat("INTERNAL"),
    },
  },
};

/** Builds the document (the same for every node but for `version`). */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const path = route.path.replace(/:([a-z]+)/g, "{$1}");
    const parameters: unknown[] = [];
    for (const match of route.path.matchAll(/:([a-z]+)/g)) {
      parameters.push({
        name: match[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      });
    }
    for (const param of route.query ?? []) {
      parameters.push({
        name: param.name,
        in: "query",
        required: false,
        description: param.description,
        schema: {
          type: "integer",
          minimum: param.min,
          maximum: param.max,
          default: param.default,
        },
      });
    }
    const responses: Record<string, unknown> = {
      "200": {
        description: "OK",
        content: { [MEDIA[route.produces]]: {} },
      },
      "4XX": {
        description: "The request is refused (RFC 9457 problem details).",
        content: {
          "application/problem+json": {
            schema: { $ref: "#/components/schemas/Problem" },
          },
        },
      },
    };
    for (const status of route.also ?? []) {
      responses[String(status)] = status === 503
        ? {
          description: "Not healthy, ready or alive (the same body as 200)",
          content: { "application/json": {} },
        }
        : {
          description: "Refused",
          content: {
            "application/problem+json": {
              schema: { $ref: "#/components/schemas/Problem" },
            },
          },
        };
    }
    if (route.mayBeUnavailable) {
      responses["503"] = {
        description:
          "Not available now (the shard coordinator handing over, sharding closed, no answer in time); retry after Retry-After seconds.",
        headers: { "Retry-After": { schema: { type: "integer" } } },
        content: {
          "application/problem+json": {
            schema: { $ref: "#/components/schemas/Problem" },
          },
        },
      };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(route.write ? { security: [{ bearer: [] }] } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Troupe diagnostics API",
      version,
      description:
        "Health, actors, cluster membership, dead letters, pub/sub, sharding and metrics of one Troupe node; write endpoints need the bearer token and are off without one.",
    },
    paths,
    components: {
      schemas: { Problem: PROBLEM },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
  };
}

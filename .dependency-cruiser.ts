// The layer rule, checked by dependency-cruiser (`npm run lint:layers`, part of `npm test`).
// src/ is a stack of layers; a file imports only its own layer and the layers below it, and no
// import goes round a cycle. Type-only imports count as much as any other: a type that points up
// is a design that points up. Lowest first:
//
//   xml         the parser, elements, namespaces, JIDs: knows nothing of the server
//   transports  TCP/TLS, WebSocket, BOSH, HTTP framing: bytes in, strings out, channel bindings
//   storage     the storage shapes and their backends, the ids and write queues they order
//   core        module API, events, router, sessions, accounts, config, errors, limits
//   stream      the client stream state machine, SASL, stream management
//   modules     one file or folder per XEP; they see the server through core, never a stream
//   cluster     the server spread over nodes (Redis): wires core's sessions and routes across
//               nodes and hands stream-management state over; only the composition root uses it
//   ops         what operators reach the running server through: the metrics and probe listener,
//               the admin socket and its client; it takes the server as narrow interfaces
//   server      src/*.ts: the composition root (server.ts) and the command line (main.ts)
//
// Unit tests beside the code (*.test.ts) are held to the same rule as the code they test.
import type { IConfiguration, IForbiddenRuleType } from "dependency-cruiser";

const LAYERS: readonly { name: string; path: string }[] = [
  { name: "xml", path: "^src/xml/" },
  { name: "transports", path: "^src/transports/" },
  { name: "storage", path: "^src/storage/" },
  { name: "core", path: "^src/core/" },
  { name: "stream", path: "^src/stream/" },
  { name: "modules", path: "^src/modules/" },
  { name: "cluster", path: "^src/cluster/" },
  { name: "ops", path: "^src/ops/" },
  { name: "server", path: "^src/[^/]+$" },
];

/** Layer i may not import layers i+1 and above. */
function layerRule(i: number): IForbiddenRuleType {
  const layer = LAYERS[i]!;
  const above = LAYERS.slice(i + 1);
  return {
    name: `layer-${layer.name}`,
    comment: `${layer.name} imports only itself and the layers below it, never ${above.map((l) => l.name).join(", ")}.`,
    severity: "error",
    from: { path: layer.path },
    to: { path: above.map((l) => l.path) },
  };
}

const config: IConfiguration = {
  forbidden: [
    ...LAYERS.slice(0, -1).map((_, i) => layerRule(i)),
    {
      name: "modules-not-to-stream",
      comment: "Modules reach streams only through core's module API (hooks, session keys, handler maps).",
      severity: "error",
      from: { path: "^src/modules/" },
      to: { path: "^src/stream/" },
    },
    {
      name: "no-circular",
      comment: "No import cycles.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves (an import the tool could not read would escape the other rules).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // dependency-cruiser reads TypeScript through the `typescript` package up to 6.x, and from
    // 7.1 through its new API; TypeScript 7.0, this project's, has neither, so swc parses the
    // sources. swc reads them as written, so type-only imports are dependencies (marked
    // "type-only"), which is what tsPreCompilationDeps asks of the tsc parser. One gap: swc's
    // reader sees an inline import("...") type only where it is a whole annotation (a
    // parameter's, a variable's), not inside a type alias or a generic argument; import types
    // with import statements. Once TypeScript is 7.1 or later: parser "tsc" with
    // tsPreCompilationDeps: true, which has no such gap, and @swc/core can go.
    parser: "swc",
  },
};

export default config;

// The module list: every protocol feature the server loads, in one place.
import type { ModuleDefinition, SpecRef } from "../core/module.ts";
import type { Shape } from "../core/schema.ts";
import disco from "./disco.ts";
import ping from "./ping.ts";
import time from "./time.ts";
import version from "./version.ts";
import vcard from "./vcard/index.ts";
import privateStorage from "./private.ts";
import register from "./register/index.ts";
import roster from "./roster/index.ts";
import presence from "./presence/index.ts";
import last from "./last.ts";
import offline from "./offline/index.ts";
import carbons from "./carbons/index.ts";
import csi from "./csi/index.ts";
import blocking from "./blocking/index.ts";
import push from "./push/index.ts";
import mam from "./mam/index.ts";
import adhoc from "./adhoc/index.ts";
import admin from "./admin/index.ts";
import muc from "./muc/index.ts";
import pep from "./pep/index.ts";
import avatarConversion from "./avatar-conversion/index.ts";
import pubsub from "./pubsub/index.ts";
import bookmarks from "./bookmarks/index.ts";
import upload from "./upload/index.ts";
import extdisco from "./extdisco/index.ts";
import jingleMessage from "./jingle-message.ts";
import proxy65 from "./proxy65/index.ts";
import contact from "./contact.ts";
import invite from "./invite/index.ts";
import webclient from "./webclient/index.ts";

export const modules: ModuleDefinition<Shape>[] = [
  disco,
  ping,
  time,
  version,
  vcard,
  privateStorage,
  register,
  roster,
  presence,
  last,
  offline,
  carbons,
  csi,
  blocking,
  push,
  mam,
  adhoc,
  admin,
  muc,
  pep,
  avatarConversion,
  pubsub,
  bookmarks,
  upload,
  extdisco,
  jingleMessage,
  proxy65,
  contact,
  invite,
  webclient,
] as ModuleDefinition<Shape>[];

/**
 * What the core itself (streams, SASL, binding, router, addresses) implements, and the command
 * line's import and export of accounts (XEP-0227, src/modules/pie/: no module the server loads).
 */
export const coreSpecs: SpecRef[] = [
  { spec: "RFC 6120", version: "RFC" },
  { spec: "RFC 7395", version: "RFC" },
  { spec: "RFC 7622", version: "RFC" },
  { spec: "XEP-0114", version: "1.6" },
  { spec: "XEP-0124", version: "1.11.2" },
  { spec: "XEP-0156", version: "1.4.0" },
  { spec: "XEP-0178", version: "1.2" },
  { spec: "XEP-0185", version: "1.0" },
  { spec: "XEP-0198", version: "1.6.3" },
  { spec: "XEP-0206", version: "1.4" },
  { spec: "XEP-0220", version: "1.1.1" },
  { spec: "XEP-0227", version: "1.1" },
  { spec: "XEP-0288", version: "1.0.1" },
  { spec: "XEP-0368", version: "1.1.0" },
  { spec: "XEP-0386", version: "1.1.0" },
  { spec: "XEP-0388", version: "1.0.4" },
  { spec: "XEP-0440", version: "0.4.2" },
  { spec: "XEP-0484", version: "0.2.0" },
];

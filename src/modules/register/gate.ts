// Registration by invitation: what another module (XEP-0445's pre-authenticated registration)
// plugs into XEP-0077 registration. A gate says whether a stream presented an invitation to the
// hosted domain it registers at, and which usernames invitations hold there; the registrar then
// lets that stream register although public registration is off, claims the invitation at the
// moment the account is made, and tells the gate once it exists.
import type { JID } from "../../xml/jid.ts";
import { serviceKey } from "../../core/module.ts";

/** An invitation a stream presented, as registration uses it. */
export interface Admission {
  /** The username the invitation is for (XEP-0401 §4.3: one chosen by the inviting administrator); undefined: any free one. */
  readonly username: string | undefined;
  /**
   * Takes the invitation for the account about to be made: false when it was used or revoked
   * meanwhile. XEP-0445 §4: "single-use tokens MUST NOT be considered used until the actual
   * registration has succeeded", so a failed creation gives it back (release).
   */
  claim(): Promise<boolean>;
  release(): Promise<void>;
  /** The account exists: what the invitation brings with it (the subscriptions of a contact invitation). */
  completed(account: JID): Promise<void>;
}

export interface RegistrationGate {
  /** The invitation to `domain` this stream presented, if any (the stream key of PreAuthRequest). */
  admission(stream: object, domain: string): Admission | undefined;
  /** Whether `local` at `domain` is held for an invitation other than `admission` (XEP-0445 §5: reserved until the invitation expires). */
  reserved(local: string, admission: Admission | undefined, domain: string): Promise<boolean>;
}

export interface Registration {
  /** Adds a gate until the module that added it unloads. */
  addGate(gate: RegistrationGate): void;
}

export const REGISTRATION = serviceKey<Registration>("register.gates");

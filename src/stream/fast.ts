// FAST (XEP-0484) on a SASL2 stream: the <fast/> inline feature with the HT mechanisms this
// connection can do (sasl/ht.ts; channel binding first, "at least one mechanism without"), the
// <fast/> and <request-token/> of an <authenticate/>, the token verifier an HT login checks its
// proof with, and after a successful login the <token/> of the <success/>: the one asked for, or a
// new one when the token used is in the second half of its life (rotation). Tokens live in storage
// (fast-tokens.ts), per account and client installation (the SASL2 user-agent id, which FAST
// clients "MUST also provide"). No TLS 0-RTT: the feature has no 'tls-0rtt'.
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { jid, JidError, type JID } from "../xml/jid.ts";
import type { Credentials } from "../core/credentials.ts";
import type { SaslContext, SaslMechanism, TokenVerifier } from "./sasl/mechanism.ts";
import { htMechanism, type HtSuffix } from "./sasl/ht.ts";
import type { FastTokens, UsedToken } from "./fast-tokens.ts";

/** Channel-bound variants first: a client "MUST" prefer them. */
const SUFFIXES: readonly HtSuffix[] = ["EXPR", "UNIQ", "ENDP", "NONE"];
const MECHANISMS = SUFFIXES.map(htMechanism);

/** xs:int, the schema's type of 'count'. */
const MAX_COUNT = 2 ** 31 - 1;

/** The HT mechanisms this connection can do. */
export function fastMechanisms(context: SaslContext): SaslMechanism[] {
  return MECHANISMS.filter((m) => m.available(context));
}

export function fastFeature(mechanisms: readonly SaslMechanism[]): Element {
  return xml("fast", { xmlns: NS.fast }, mechanisms.map((m) => xml("mechanism", null, m.name)));
}

/** The <fast/> of an <authenticate/>: the client logs in with a token. */
export interface FastLogin {
  /** The replay counter, when sent. */
  count: number | undefined;
  /** Log the client out: its token is invalidated once the login succeeds. */
  invalidate: boolean;
}

/** The <fast/> element as a record; undefined when its count is not a positive xs:int. */
export function parseFastLogin(el: Element): FastLogin | undefined {
  const c = el.attrs.count;
  let count: number | undefined;
  if (c !== undefined) {
    if (!/^\d{1,10}$/.test(c) || Number(c) > MAX_COUNT) return undefined;
    count = Number(c);
  }
  const inv = el.attrs.invalidate;
  return { count, invalidate: inv === "true" || inv === "1" };
}

/** One login's use of FAST: what the client asked for, and the token its HT login proved (if any). */
export class FastAttempt {
  /** Set once an HT login proved a stored token. */
  used: UsedToken | undefined = undefined;
  private readonly tokens: FastTokens;
  private readonly domain: string;
  private readonly userAgent: string | undefined;

  constructor(tokens: FastTokens, domain: string, userAgent: string | undefined) {
    this.tokens = tokens;
    this.domain = domain;
    this.userAgent = userAgent;
  }

  /**
   * The verifier of an HT login: the account's credentials come through `lookup` (the exchange's,
   * which takes the account's turn with the login throttle), `login` is the client's <fast/>.
   */
  verifier(lookup: (username: string) => Promise<Credentials | undefined>, login: FastLogin): TokenVerifier {
    return {
      verify: async (username, mechanism, proves) => {
        const account = this.accountOf(username);
        if (account === undefined || this.userAgent === undefined) return undefined;
        const creds = await lookup(username);
        const r = await this.tokens.verify(account, this.userAgent, mechanism, proves, creds, login.count);
        if (r === undefined || r === "expired") return r;
        this.used = r;
        return r.key;
      },
    };
  }

  /**
   * After the login succeeded: invalidation (XEP-0484 §Client requests token invalidation), then
   * the <token/> for the <success/>, if one is asked for (a mechanism this connection offers) or
   * the token used is due for rotation ("unless the client also included a FAST <request-token/>",
   * none after an invalidation). `creds` reads the account's credentials, which the token is tied to.
   */
  async afterSuccess(account: JID, login: FastLogin | undefined, requested: string | undefined, usedMechanism: string,
    creds: () => Promise<Credentials | undefined>): Promise<Element | undefined> {
    const ua = this.userAgent;
    if (ua === undefined) return undefined;
    const owner = account.bare.toString();
    if (this.used && login?.invalidate) await this.tokens.revoke(owner, ua);
    let mechanism = requested;
    if (mechanism === undefined && this.used && !login?.invalidate && this.tokens.dueForRotation(this.used.expires)) mechanism = usedMechanism;
    if (mechanism === undefined) return undefined;
    const c = await creds();
    if (c === undefined) return undefined;
    const issued = await this.tokens.issue(owner, ua, mechanism, c);
    return xml("token", { xmlns: NS.fast, expiry: dateTime(issued.expires), token: issued.token });
  }

  private accountOf(username: string): string | undefined {
    try {
      return jid(username, this.domain).toString();
    } catch (e) {
      if (e instanceof JidError) return undefined;
      throw e;
    }
  }
}

/** XEP-0082 DateTime, in UTC, to the second. */
function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

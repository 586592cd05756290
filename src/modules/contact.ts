// XEP-0157: Contact Addresses for XMPP Services. The operator's addresses for abuse reports,
// the administrators, feedback, sales, security, service status and support, each a list of URIs
// (mailto:, xmpp:, https:), published as a service discovery extension (XEP-0128) of the
// server's disco#info: "This information MUST be scoped using a FORM_TYPE of
// http://jabber.org/network/serverinfo". Being part of disco#info, the form is part of the
// server's caps hash (XEP-0115 §5.1), so a change of addresses changes the hash clients cache.
import { buildForm } from "../core/forms.ts";
import { defineModule } from "../core/module.ts";
import { custom, strList, type Field } from "../core/schema.ts";

export const SERVERINFO = "http://jabber.org/network/serverinfo";

/** The roles of the XEP's registry, in its order; each is the field `<role>-addresses` (list-multi). */
export const ROLES = ["abuse", "admin", "feedback", "sales", "security", "status", "support"] as const;
type Role = (typeof ROLES)[number];

const DOCS: Record<Role, string> = {
  abuse: "abusive traffic (spam, harassment)",
  admin: "the service administrators",
  feedback: "feedback",
  sales: "sales and marketing",
  security: "security concerns",
  status: "the service's status page",
  support: "customer support",
};

const list = strList("", []);

/**
 * A list of URIs. §2: values of status-addresses "MUST be valid URIs", the others "SHOULD"; all
 * are held to the MUST here, so a typo (an address without mailto:) fails at start, not in a client.
 */
function uris(role: Role): Field<string[]> {
  return custom("list of URIs", `Addresses for ${DOCS[role]}, as URIs (mailto:, xmpp:, https:).`, [], (raw) => {
    const values = list.parse(raw, typeof raw === "string");
    for (const v of values) if (!/^[a-z][a-z0-9+.-]*:/i.test(v) || !URL.canParse(v)) throw `'${v}' is not a URI (e.g. mailto:abuse@example.org)`;
    return values;
  });
}

export default defineModule({
  name: "contact",
  specs: [{ spec: "XEP-0157", version: "1.1.1" }],
  options: Object.fromEntries(ROLES.map((r) => [r, uris(r)])) as Record<Role, Field<string[]>>,
  setup(ctx) {
    const given = ROLES.filter((r) => ctx.options[r].length > 0);
    if (given.length === 0) return;
    // list-multi, as the registry declares the fields; roles without addresses are left out.
    ctx.discoExtension(buildForm({
      type: "result",
      formType: SERVERINFO,
      fields: given.map((r) => ({ type: "list-multi", var: `${r}-addresses`, values: ctx.options[r] })),
    }));
  },
});

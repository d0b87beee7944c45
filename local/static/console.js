// The local console: every button calls a control route of a stand-in (or the API itself, as a
// frontend would), then the page reads the stand-ins' state again. Nothing here decides
// anything: a test can do the same with plain HTTP.
let token = null;

const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
};

async function call(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    headers: { ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: response.status, json };
}

const api = (method, path, body) =>
  call(method, path, body, token ? { Authorization: `Bearer ${token}` } : {});

// Any JSON as tables: a list of records as rows, a record as its fields.
function render(value) {
  if (Array.isArray(value)) {
    if (value.length === 0) return el("p", { class: "off" }, "none");
    if (value.every((row) => row && typeof row === "object" && !Array.isArray(row))) {
      const columns = [...new Set(value.flatMap(Object.keys))];
      return el("table", {},
        el("tr", {}, columns.map((c) => el("th", {}, c))),
        value.map((row) => el("tr", {}, columns.map((c) => el("td", {}, cell(row[c]))))));
    }
  }
  if (value && typeof value === "object") {
    return el("div", {}, Object.entries(value).map(([key, item]) =>
      el("div", {}, el("h3", {}, key), render(item))));
  }
  return el("pre", {}, JSON.stringify(value, null, 2));
}

const cell = (value) =>
  value && typeof value === "object" ? el("pre", {}, JSON.stringify(value, null, 1)) : value;

// A section reads its stand-in; a 404 means the stand-in is not running on this stack.
async function show(id, path, build, off) {
  const body = document.querySelector(`#${id} .body`);
  const { status, json } = await call("GET", path);
  body.replaceChildren(status === 404 ? el("p", { class: "off" }, off) : build(json));
}

function action(label, run, attributes = {}) {
  return el("button", {
    type: "button", ...attributes,
    onclick: async () => { const answer = await run(); result(answer); await refresh(); },
  }, label);
}

function result(answer) {
  const out = document.getElementById("last-result");
  if (out && answer) out.textContent = `${answer.status} ${JSON.stringify(answer.json, null, 1)}`;
}

async function player() {
  const body = document.querySelector("#player .body");
  if (!token) return body.replaceChildren(el("p", { class: "off" }, "Sign in to book."));
  const calendar = await api("GET", "/calendar");
  const me = usernameOf(token);
  const open = (calendar.json?.availabilities || []).filter((a) => a.owner !== me);
  body.replaceChildren(
    el("p", {}, `${open.length} bookable availabilities of others on your calendar.`),
    el("table", {},
      el("tr", {}, ["owner", "start", "types", "price", ""].map((h) => el("th", {}, h))),
      open.map((a) => el("tr", { "data-id": a.id },
        el("td", {}, a.owner), el("td", {}, a.startTime), el("td", {}, a.types.join(", ")),
        el("td", {}, a.price ? `${a.price.amount / 100} ${a.price.currency}` : "free"),
        el("td", {}, action("Book", () => api("PUT", "/availability/book", {
          owner: a.owner, id: a.id, startTime: a.startTime, type: a.types[0],
        }), { class: "book" }))))),
    await series(),
  );
}

// The signed-in player's repeating availabilities (contract v4): each series with its
// occurrences, at their wall-clock time in the series' zone, and a button ending it.
async function series() {
  const own = (await api("GET", "/availability")).json?.availabilities || [];
  const bySeries = new Map();
  for (const a of own.filter((o) => o.seriesId)) {
    bySeries.set(a.seriesId, [...(bySeries.get(a.seriesId) || []), a]);
  }
  const local = (time, zone) => new Date(time).toLocaleString("en-GB", {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  return el("div", { id: "series" },
    el("h3", {}, `Your repeating availabilities (${bySeries.size})`),
    [...bySeries].map(([id, occurrences]) => {
      const { rule, timezone } = occurrences[0].recurrence;
      occurrences.sort((a, b) => a.startTime.localeCompare(b.startTime));
      return el("div", { class: "series", "data-series": id },
        el("p", {}, `${rule} in ${timezone}: ${occurrences.length} open occurrences `,
          action("Delete series", () => api("DELETE", `/availability/series/${id}`))),
        el("table", {},
          el("tr", {}, ["start (UTC)", `start (${timezone})`, "id"].map((h) => el("th", {}, h))),
          occurrences.map((a) => el("tr", {},
            el("td", {}, a.startTime), el("td", {}, local(a.startTime, timezone)), el("td", {}, a.id)))));
    }));
}

function stripe(state) {
  const base = "/_local/stripe";
  return el("div", {},
    el("h3", {}, "Checkout Sessions"),
    el("table", {},
      el("tr", {}, ["id", "status", "payment", "amount", "metadata", ""].map((h) => el("th", {}, h))),
      state.checkoutSessions.map((s) => el("tr", { "data-id": s.id },
        el("td", {}, s.id), el("td", {}, s.status), el("td", {}, s.payment_status),
        el("td", {}, `${s.amount_total / 100} ${s.currency}`), el("td", {}, cell(s.metadata)),
        el("td", {}, s.status !== "open" ? "" : [
          action("Pay", () => call("POST", `${base}/checkout/${s.id}/complete`), { class: "pay" }),
          action("Abandon (expire)", () => call("POST", `${base}/checkout/${s.id}/expire`)),
          action("Expire, event lost",
            () => call("POST", `${base}/checkout/${s.id}/expire?deliver=false`)),
        ])))),
    el("h3", {}, "Refunds"), render(state.refunds),
    el("h3", {}, "Events"),
    el("table", {},
      el("tr", {}, ["id", "type", "delivered", ""].map((h) => el("th", {}, h))),
      state.events.map((e) => el("tr", {},
        el("td", {}, e.id), el("td", {}, e.type), el("td", {}, String(e.delivered)),
        el("td", {}, action("Resend", () => call("POST", `${base}/events/${e.id}/resend`)))))),
    el("h3", {}, "Connected accounts"),
    el("table", {},
      el("tr", {}, ["id", "charges enabled", ""].map((h) => el("th", {}, h))),
      state.accounts.map((a) => el("tr", {},
        el("td", {}, a.id), el("td", {}, String(a.charges_enabled)),
        el("td", {}, a.charges_enabled ? "" :
          action("Enable", () => call("POST", `${base}/accounts/${a.id}/enable`)))))),
  );
}

function shop(state) {
  const email = el("input", { placeholder: "email" });
  const seconds = el("input", { type: "number", value: "30", min: "1", style: "width:5em" });
  return el("div", {},
    el("div", { class: "row" }, email,
      action("Make member", () => call("PUT", `/_local/shop/members/${encodeURIComponent(email.value)}`)),
      action("Remove member",
        () => call("DELETE", `/_local/shop/members/${encodeURIComponent(email.value)}`)),
      "outage for", seconds, "s",
      action("Start outage", () => call("POST", `/_local/shop/outage?seconds=${seconds.value}`))),
    render(state));
}

function sites() {
  const site = el("select", {},
    ["lichess/arena", "lichess/swiss", "chesscom"].map((s) => el("option", { value: s }, s)));
  const id = el("input", { placeholder: "tournament id" });
  const answer = el("textarea", { rows: "4", cols: "80", placeholder: "what the site answers (JSON)" });
  const collection = el("select", {},
    ["players", "chesscom-players"].map((c) => el("option", { value: c }, c)));
  const documents = el("div");
  const mongo = "/_local/mongo/Lisebot-database";
  const list = async () => {
    const { status, json } = await call("GET", `${mongo}/${collection.value}`);
    documents.replaceChildren(status === 404 ? el("p", { class: "off" }, "no MongoDB here") : render(json));
  };
  collection.addEventListener("change", list);
  list();
  return el("div", {},
    el("div", { class: "row" }, site, id,
      action("Set fixture", () => call("PUT", `/_local/${site.value}/${encodeURIComponent(id.value)}`,
        JSON.parse(answer.value || "{}")))),
    answer,
    el("h3", {}, "MongoDB (database Lisebot-database)"), el("div", { class: "row" }, collection),
    documents);
}

function mail(state) {
  return el("div", {},
    el("div", { class: "row" }, action("Empty", () => call("DELETE", "/_local/mail"))),
    render(state.messages));
}

function schedules(state) {
  return el("table", {},
    el("tr", {}, ["function", "schedule", "run at (ISO, empty: now)", ""].map((h) => el("th", {}, h))),
    state.schedules.map((job) => {
      const time = el("input", { placeholder: new Date().toISOString(), size: "26" });
      return el("tr", {},
        el("td", {}, job.function), el("td", {}, job.schedule), el("td", {}, time),
        el("td", {}, action("Run", () => call("POST", `/_local/schedule/${job.function}`,
          time.value ? { time: time.value } : {}))));
    }));
}

// A panel names how its stand-in's state is drawn (local/standins.py's Panel.render).
const RENDERERS = { render, stripe, shop, sites, mail };

// The stand-ins' sections, one per registered panel, before the scheduled functions'.
for (const panel of PANELS) {
  document.getElementById("schedule").before(
    el("section", { id: panel.id }, el("h2", {}, panel.title), el("div", { class: "body" })));
}

async function refresh() {
  await Promise.all([
    player(),
    show("users", "/_local/users", render, "no user pool"),
    ...PANELS.map((p) => show(p.id, p.path, RENDERERS[p.render], p.off)),
    show("schedule", "/_local/schedule", schedules, ""),
    show("stats", "/_local/stats", render, ""),
  ]);
}

const signInAtStart = signInBar(document.getElementById("sign-in"), SIGN_IN, async (signedIn) => {
  if (signedIn) token = signedIn;  // a failed attempt leaves whoever was signed in
  await refresh();
});
document.getElementById("refresh").addEventListener("click", refresh);
if (!signInAtStart()) refresh();

// A frontend on another origin using `make run` as a deployed stack: amazon-cognito-identity-js
// signs up, confirms and signs in (SRP, its default) against the local Cognito endpoint, then
// fetch() calls the API. Bundled by esbuild at test time; tests/e2e/test_browser.py reads the
// observations in `window.observations` and asserts on them.
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

const api = new URLSearchParams(location.search).get("api");
const password = new URLSearchParams(location.search).get("password");

function signUp(pool, username) {
  const email = new CognitoUserAttribute({ Name: "email", Value: `${username}@example.com` });
  return new Promise((resolve, reject) =>
    pool.signUp(username, password, [email], null, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
}

function confirm(pool, username) {
  const user = new CognitoUser({ Username: username, Pool: pool });
  return new Promise((resolve, reject) =>
    user.confirmRegistration("000000", true, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
}

// The ID token, or the error's code (NotAuthorizedException, ...).
function signIn(pool, login, secret) {
  const user = new CognitoUser({ Username: login, Pool: pool });
  const details = new AuthenticationDetails({ Username: login, Password: secret });
  return new Promise((resolve) =>
    user.authenticateUser(details, {
      onSuccess: (session) => resolve({ token: session.getIdToken().getJwtToken() }),
      onFailure: (error) => resolve({ error: error.code || String(error) }),
    }),
  );
}

// What the page's script sees of a response: status, JSON body, or the network error a
// blocked CORS request gives.
async function call(method, path, token, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { notJson: text.slice(0, 200) };
    }
    return { method, path, status: response.status, body: json };
  } catch (error) {
    return { method, path, networkError: String(error) };
  }
}

async function run() {
  const configCall = await call("GET", "/_local/config");
  if (configCall.networkError) return { config: configCall };
  const config = configCall.body;
  const pool = new CognitoUserPool({
    UserPoolId: config.userPoolId,
    ClientId: config.userPoolClientId,
    endpoint: config.cognitoEndpoint,
  });
  const seen = { signIn: {}, calls: {}, generic: [] };

  for (const username of ["carol", "dave"]) {
    await signUp(pool, username);
    await confirm(pool, username);
  }
  seen.signIn.username = await signIn(pool, "carol", password);
  seen.signIn.emailAlias = await signIn(pool, "carol@example.com", password);
  seen.signIn.wrongPassword = await signIn(pool, "carol", password + "x");
  seen.signIn.unknownUser = await signIn(pool, "nobody", password);
  const carol = seen.signIn.username.token;
  const dave = (await signIn(pool, "dave", password)).token;

  // A player's way through the API
  const cohort = "1200-1300";
  seen.calls.getUser = await call("GET", "/user", carol);
  const profile = (name) => ({ dojoCohort: cohort, discordUsername: `${name}#1` });
  seen.calls.putUser = await call("PUT", "/user", carol, profile("carol"));
  await call("PUT", "/user", dave, profile("dave"));
  const start = new Date(Date.now() + 86400000);
  start.setUTCMilliseconds(0);
  const offer = (hours) => ({
    owner: "carol",
    ownerDiscord: "carol#1",
    ownerCohort: cohort,
    startTime: start.toISOString(),
    endTime: new Date(start.getTime() + hours * 3600000).toISOString(),
    types: ["CLASSICAL_GAME"],
    cohorts: [cohort],
  });
  seen.calls.putAvailability = await call("PUT", "/availability", carol, offer(2));
  const spare = await call("PUT", "/availability", carol, offer(3));
  seen.calls.getAvailability = await call("GET", "/availability", carol);
  const now = encodeURIComponent(new Date().toISOString());
  seen.calls.searchAvailability = await call(
    "GET",
    `/availability?byTime=1&startTime=${now}&limit=10`,
    dave,
  );
  const availability = seen.calls.putAvailability.body;
  seen.calls.book = await call("PUT", "/availability/book", dave, {
    owner: "carol",
    id: availability.id,
    startTime: availability.startTime,
    type: "CLASSICAL_GAME",
  });
  seen.calls.getMeeting = await call("GET", `/meeting/${seen.calls.book.body.id}`, carol);
  seen.calls.getMeetings = await call("GET", "/meeting", dave);
  seen.calls.deleteAvailability = await call("DELETE", `/availability/${spare.body.id}`, carol);
  seen.calls.publicUser = await call("GET", "/public/user/carol");
  seen.calls.unknownRoute = await call("GET", "/nowhere", carol);
  seen.calls.invalidBody = await call("PUT", "/availability", carol, { startTime: "soon" });

  // Every route the API publishes: without a token, then with one and input it must refuse
  // (an unknown id, an empty body), so each answers, errors included, through CORS.
  const openapi = (await call("GET", "/_local/openapi.json")).body;
  for (const [template, operations] of Object.entries(openapi.paths)) {
    const path = template.replace(/\{[^}]+\}/g, "no-such-id");
    for (const [method, operation] of Object.entries(operations)) {
      const body = operation.requestBody ? {} : undefined;
      seen.generic.push({
        route: `${method.toUpperCase()} ${template}`,
        secured: Boolean(operation.security),
        anonymous: await call(method.toUpperCase(), path, null, body),
        signedIn: await call(method.toUpperCase(), path, carol, body),
      });
    }
  }
  return seen;
}

window.observations = run().catch((error) => ({ failed: String(error.stack || error) }));

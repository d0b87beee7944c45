// Sign-in for make run's pages: Cognito's InitiateAuth (USER_PASSWORD_AUTH) through the local
// Cognito endpoint, as any AWS SDK would call it. Returns the IdToken the API's JWT authorizer
// takes (its audience is the user pool client).
async function localConfig() {
  const response = await fetch("/_local/config");
  return response.json();
}

async function signIn(login, password) {
  const config = await localConfig();
  const response = await fetch(config.cognitoEndpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.userPoolClientId,
      AuthParameters: { USERNAME: login, PASSWORD: password },
    }),
  });
  const answer = await response.json();
  if (!response.ok) {
    throw new Error(answer.message || answer.__type || `Cognito answered ${response.status}`);
  }
  return answer.AuthenticationResult.IdToken;
}

// The username a token names (its cognito:username claim), for display.
function usernameOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload))["cognito:username"];
}

// The sign-in bar both pages show, rendered into their `<form id="sign-in"></form>`: login and
// password (filled with `start`, the demo player's when there is demo data), a button, and the
// outcome. Each attempt ends in `settled(token)`, token null when it failed. Returns
// `signInAtStart()`: signs in as `start` if it names someone, and says whether it did.
function signInBar(form, start, settled) {
  form.innerHTML = `
    <input id="login" name="login" placeholder="username or email" autocomplete="username">
    <input id="password" name="password" type="password" placeholder="password"
           autocomplete="current-password">
    <button type="submit">Sign in</button>
    <span id="signed-in" role="status">not signed in</span>`;
  form.login.value = start.login || "";
  form.password.value = start.password || "";
  const status = form.querySelector("#signed-in");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "signing in…";
    let token = null;
    try {
      token = await signIn(form.login.value, form.password.value);
      status.textContent = `signed in as ${usernameOf(token)}`;
    } catch (error) {
      status.textContent = `sign-in failed: ${error.message}`;
    }
    await settled(token);
  });
  return function signInAtStart() {
    if (!start.login) return false;
    form.requestSubmit();
    return true;
  };
}

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

'use strict';

// The git-ignored secret files (copied from the *.yml.example files) as config/dev.yml and
// config/prod.yml read them: `${file(./config/secret-files.js):<name>}`. Only `simple` reads
// none. The values themselves go into the stage's Secrets Manager secrets (docs/deploy.md, "Secrets");
// here a file decides whether a feature is on, and a value that is empty or still a placeholder
// stops packaging with the file and key to fix, instead of a deploy that fails half-way (Cognito
// refuses an identity provider whose client_id is '') or a stage that runs without its feature.
//
// - discord:        'true' where discord.yml has a bot token; a missing file or an empty token
//                   is 'false' (notifications off, as docs/discord.md says).
// - tournaments:    'true' where tournament.yml has both values; a missing file or both empty
//                   is 'false' (tournaments off); one of the two alone is refused.
// - googleClientId: oauth.yml's client_id (googleSignIn stages); both keys required.
// - membership:     'true' after checking wix.yml's wixApiKey (membership stages); required.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

// What the example files hold ("") and what people type while filling them in.
const PLACEHOLDER =
  /^(<.*>|\.\.\.|…|x+|todo|tbd|fixme|changeme|change[-_ ]me|replace[-_ ]?me|placeholder|your[-_ ].*)$/i;

// The framework prints an error's stack: without frames, the operator sees only the message.
function refuse(message) {
  const error = new Error(message);
  error.stack = message;
  return error;
}

function read(file) {
  const full = path.join(__dirname, '..', file);
  if (!fs.existsSync(full)) return null;
  return yaml.load(fs.readFileSync(full, 'utf8')) || {};
}

// '' for an empty or absent value; throws for a placeholder.
function value(values, file, key) {
  const raw = values[key];
  const text = raw === undefined || raw === null ? '' : String(raw).trim();
  if (PLACEHOLDER.test(text)) {
    throw refuse(`${file}: ${key} is a placeholder (${JSON.stringify(text)}): put the real value`);
  }
  return text;
}

function required(file, keys, why) {
  const values = read(file);
  if (values === null) {
    throw refuse(`${file} is missing: ${why}; copy ${file}.example to ${file} and fill in ${keys.join(', ')}`);
  }
  return Object.fromEntries(
    keys.map((key) => {
      const text = value(values, file, key);
      if (!text) throw refuse(`${file}: ${key} is empty: ${why}`);
      return [key, text];
    })
  );
}

function stageOf(options) {
  return (options && options.stage) || 'dev';
}

module.exports = {
  discord() {
    const values = read('discord.yml');
    return values !== null && value(values, 'discord.yml', 'discordAuth') ? 'true' : 'false';
  },

  tournaments() {
    const keys = ['mongoConnectionString', 'botAccessToken'];
    const values = read('tournament.yml');
    if (values === null) return 'false';
    const filled = keys.filter((key) => value(values, 'tournament.yml', key));
    if (filled.length === keys.length) return 'true';
    if (filled.length === 0) return 'false';
    const [empty] = keys.filter((key) => !filled.includes(key));
    throw refuse(
      `tournament.yml: ${empty} is empty but ${filled[0]} is set: the tournaments need both ` +
        '(or leave both empty to deploy without them)'
    );
  },

  googleClientId({ options } = {}) {
    const why =
      `config/${stageOf(options)}.yml has googleSignIn: 'true' (Cognito refuses a Google ` +
      'identity provider without its OAuth client)';
    return required('oauth.yml', ['client_id', 'client_secret'], why).client_id;
  },

  membership({ options } = {}) {
    const stage = stageOf(options);
    const why =
      `membership is on for ${stage}: the shop's key goes to the secret ` +
      `dojo-scheduler/${stage}/shop (docs/membership.md); to deploy without membership, set ` +
      `membership: 'false' in config/${stage}.yml`;
    required('wix.yml', ['wixApiKey'], why);
    return 'true';
  },
};

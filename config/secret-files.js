'use strict';

// Whether a git-ignored secret file supplies a value: 'true' or 'false', never the value
// (which goes to the stage's Secrets Manager secret, docs/deploy.md "Secrets"). A missing file, or
// an empty value, is 'false'. Used as `${file(./config/secret-files.js):<name>}`.

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

// name -> [file, key]
const FILES = {
  discord: ['discord.yml', 'discordAuth'],
};

function supplied(file, key) {
  const full = path.join(__dirname, '..', file);
  if (!fs.existsSync(full)) return 'false';
  const values = yaml.load(fs.readFileSync(full, 'utf8')) || {};
  return values[key] ? 'true' : 'false';
}

module.exports = () =>
  Object.fromEntries(Object.entries(FILES).map(([name, [file, key]]) => [name, supplied(file, key)]));

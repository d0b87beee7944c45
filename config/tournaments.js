'use strict';

// `tournaments` of config/dev.yml and config/prod.yml: 'true' when the git-ignored
// tournament.yml holds both of its values (mongoConnectionString, botAccessToken), 'false' when
// it is missing or either is empty (as tournament.yml.example ships). Only this answer enters the
// stage's configuration: the values never do. The functions read them from the stage's Secrets
// Manager secret (docs/tournaments.md).

const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

module.exports = () => {
  const file = path.join(__dirname, '..', 'tournament.yml');
  if (!fs.existsSync(file)) return 'false';
  const values = yaml.load(fs.readFileSync(file, 'utf8')) || {};
  const filled = ['mongoConnectionString', 'botAccessToken'].every(
    (name) => typeof values[name] === 'string' && values[name].trim() !== '',
  );
  return filled ? 'true' : 'false';
};

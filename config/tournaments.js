'use strict';

// `tournaments` of config/dev.yml and config/prod.yml: 'true' when the git-ignored
// tournament.yml holds both of its values (mongoConnectionString, botAccessToken), 'false' when
// it is missing or both are empty (as tournament.yml.example ships); one value alone, or a
// placeholder, stops packaging (config/secret-files.js). Only this answer enters the stage's
// configuration: the values never do. The functions read them from the stage's Secrets Manager
// secret (docs/tournaments.md).

module.exports = () => require('./secret-files').tournaments();

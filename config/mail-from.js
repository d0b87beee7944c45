'use strict';

// The bare address of the stage's `mailFrom` (`ChessDojo <no-reply@example.org>` ->
// `no-reply@example.org`), as SES's `ses:FromAddress` condition key holds it:
// `${file(./config/mail-from.js):address}` (sendReminders' ses:SendEmail grant).

module.exports.address = async ({ resolveVariable }) => {
  const from = String((await resolveVariable('self:custom.stage.mailFrom')) || '').trim();
  const bracketed = /<([^<>]+)>$/.exec(from);
  return (bracketed ? bracketed[1] : from).trim();
};

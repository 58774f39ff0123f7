// The fleet's timeline, shared by the agents and by the alert in
// ../../testdata/realsdk/alert.json: healthy traffic from 08:30 UTC, the
// shipping API starts answering 503 at 09:38, the alert fires at 09:42:30,
// the export stops at 09:56.
"use strict";

const day = Date.UTC(2026, 2, 10); // 2026-03-10
const at = (h, m, s = 0) => day + ((h * 60 + m) * 60 + s) * 1000;

module.exports = {
  start: at(8, 30),
  incidentStart: at(9, 38),
  alertStartsAt: at(9, 42, 30),
  end: at(9, 56),
};

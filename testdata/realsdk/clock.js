// A virtual clock for the agent processes. The OpenTelemetry SDK stamps a
// span's start with Date.now() and its end with the start plus the
// performance.now() delta, so moving both by the same amount makes the SDK
// write the timestamps of a fleet that ran for hours, in a few seconds of
// real time. Model latency is simulated by advancing the clock inside the
// model client's fetch, so it shows up in the spans the instrumentation
// wraps around the call.
"use strict";

const realDateNow = Date.now.bind(Date);
const realPerfNow = performance.now.bind(performance);
let base = 0; // ms added to the wall clock
let adv = 0; // ms advanced so far

function install(startMs) {
  base = startMs - realDateNow();
  Date.now = () => realDateNow() + base + adv;
  performance.now = () => realPerfNow() + adv;
}

function advance(ms) {
  adv += ms;
}

function now() {
  return Date.now();
}

// advanceTo moves the clock to t (ms since the epoch) when t lies ahead.
function advanceTo(t) {
  const d = t - now();
  if (d > 0) advance(d);
}

module.exports = { install, advance, advanceTo, now };

import { setDefaultTimeout } from "bun:test";

// Integration tests start servers, databases and child processes; Bun's 5 s default is too short
// on a 2-core machine under load (bunfig's [test] timeout is not applied by this Bun version).
setDefaultTimeout(30_000);

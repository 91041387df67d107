#!/usr/bin/env node
'use strict';
// The `omega-pr` command. The CLI itself is TypeScript compiled to dist/.
// SIGINT / SIGTERM: stop, clean up, exit 130 (dist/cli/lifecycle.js). After the final report the
// process exits with the command's code even when a user module keeps handles open.
const lifecycle = require('../dist/cli/lifecycle.js');
lifecycle.installSignalHandlers();
require('../dist/cli/index.js')
  .main(process.argv.slice(2))
  .then(
    (code) => lifecycle.exitAfterFlush(code),
    (err) => {
      process.stderr.write(`omega-pr: ERR_OMEGA_INTERNAL: ${err && err.stack ? err.stack : String(err)}\n`);
      lifecycle.exitAfterFlush(1);
    },
  );

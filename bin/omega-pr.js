#!/usr/bin/env node
'use strict';
// The `omega-pr` command. The CLI itself is TypeScript compiled to dist/.
require('../dist/cli/index.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });

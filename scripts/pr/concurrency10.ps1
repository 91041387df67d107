# Runbook phase 2 (PR-1, gate PR-G1):
#   powershell -ExecutionPolicy Bypass -File .\concurrency10.ps1      (from scripts/pr/)
# A thin forwarder to the CLI: `omega-pr concurrency --workers 10`, metrics written to the
# project's metrics/pr/ (PR_RUNS/concurrency10_<ts>/concurrency10-report.json and the
# PR_RUNS/concurrency10_latest link). Extra arguments are passed through.
# Windows PowerShell 5.1 and PowerShell 7 alike: no ternaries, no `??`, no `&&` chains.
# Exit code: the CLI's (0 PASS, 1 FAIL with an NCR under nexus/proof/, 2 usage error).
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$root = Resolve-Path (Join-Path $here '..\..')
# The CLI: this repository's bin\, or the omega-pr package installed in the project.
$cli = Join-Path $root 'bin\omega-pr.js'
if (-not (Test-Path -LiteralPath $cli)) {
    $cli = Join-Path $root 'node_modules\omega-pr\bin\omega-pr.js'
}
if (-not (Test-Path -LiteralPath $cli)) {
    Write-Error "omega-pr: ERR_OMEGA_IO: no omega-pr CLI under $root (bin\omega-pr.js or node_modules\omega-pr): npm install omega-pr"
    exit 2
}
Push-Location $root
try {
    & node $cli concurrency --workers 10 --out 'metrics/pr' @args
    $code = $LASTEXITCODE
}
finally {
    Pop-Location
}
exit $code

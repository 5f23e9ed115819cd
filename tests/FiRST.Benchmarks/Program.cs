using BenchmarkDotNet.Running;

// Picks benchmarks by --filter (or asks interactively) and runs each case in its own Release process.
// Exits non-zero when a benchmark failed, so a script (or a `--job dry` smoke run) notices.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;

using BenchmarkDotNet.Running;
using FiRST.Benchmarks;

// The paired compiled-vs-generic path comparison is `first bench --paths`. "kernels": the paired comparison of
// the width-generic kernels with the former 512/256-bit copies (KernelComparison); "bf16": bfloat16 weights
// against float32 ones through MatVec.Rows (KernelComparison.RunBFloat16). Otherwise BenchmarkDotNet picks
// benchmarks by --filter (or asks interactively) and runs each case in its own Release process; it exits
// non-zero when a benchmark failed, so a script (or a `--job dry` smoke run) notices.
if (args.Length > 0 && args[0] == "kernels") return KernelComparison.Run(args[1..]);
if (args.Length > 0 && args[0] == "int8") return KernelComparison.RunInt8(args[1..]);
if (args.Length > 0 && args[0] == "bf16") return KernelComparison.RunBFloat16(args[1..]);
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;

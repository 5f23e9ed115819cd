using FiRST;

namespace FiRST.Cli.Bench;

// Compiled paths for the shapes `first make-model --shape 15M|110M` writes, so `first bench --paths` can set
// compiled against generic decoding on them (the profiles beside this file name three and two masks). A
// compiled path exists only for shapes compiled into the binary: that is the product's model.

/// <summary>llama2.c's 15M shape with three masks.</summary>
[FiRSTModel("Bench/15M.first.json")]
internal partial class Shape15M;

/// <summary>llama2.c's 110M shape with two masks.</summary>
[FiRSTModel("Bench/110M.first.json")]
internal partial class Shape110M;

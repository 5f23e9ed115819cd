using FiRST;

namespace Llama7B;

/// <summary>
/// Llama 2 7B (dim 4096, 32 layers, 32 heads, 32 KV heads, hidden 11008, vocabulary 32000, context 4096)
/// specialised from example task masks: a constant per shape value, the shape struct, one decode path per task
/// (summarize with a self-speculation plan, classify with early-exit thresholds), the full path, the weight
/// manifest and the path table.
/// </summary>
[FiRSTModel("llama-2-7b.first.json")]
public partial class Llama2Model
{
}

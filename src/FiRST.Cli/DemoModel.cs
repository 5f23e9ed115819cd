using FiRST;

namespace FiRST.Cli;

/// <summary>
/// The embedded demo model, specialised at build time from its calibrated profile (models/demo): one decode
/// path per task mask, and the path table <c>first generate</c> hands the dispatcher when it runs this model.
/// </summary>
[FiRSTModel("demo/model.first.json")]
internal partial class DemoModel
{
}

using FiRST;

namespace FiRST.Sample;

/// <summary>
/// The embedded demo model, specialised at build time from the profile its calibration wrote: one decode path
/// per task (copy, reverse, sort, add) over the layers that task keeps, and the path table the dispatcher uses.
/// </summary>
[FiRSTModel("demo/model.first.json")]
public partial class DemoModel
{
}

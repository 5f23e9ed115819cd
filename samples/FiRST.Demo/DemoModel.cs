using FiRST;

namespace FiRST.Demo;

/// <summary>
/// The embedded demo model, specialised at build time from its calibrated profile: one decode path per task
/// over the layers that task keeps, the weight manifest and the path table the dispatcher chooses from.
/// </summary>
[FiRSTModel("demo/model.first.json")]
public partial class DemoModel
{
}

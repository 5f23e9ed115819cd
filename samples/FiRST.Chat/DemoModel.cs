namespace FiRST.Chat;

/// <summary>The embedded demo model's decode paths and path table, generated from its calibrated profile.</summary>
[FiRSTModel("demo/model.first.json")]
public partial class DemoModel;

using FiRST;

namespace FiRST.Sample;

/// <summary>
/// The stories260K model, specialised at build time from its profile: constants, one straight-line decode path
/// per task (copy, reverse, chat) and load options that map only the layers those tasks keep.
/// </summary>
[FiRSTModel("models/stories260K.first.json")]
public partial class StoriesModel
{
}

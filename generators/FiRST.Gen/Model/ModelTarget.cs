namespace FiRST.Gen.Model
{
    /// <summary>
    /// A class marked with <c>[FiRSTModel]</c>, reduced to the values the generated code depends on. It keeps no
    /// symbol or syntax node, so it compares by value and an edit elsewhere in the compilation leaves it cached;
    /// and no location (those are in <see cref="LocatedTarget"/>), so moving the class in its file does not
    /// change what the emitter is given.
    /// </summary>
    /// <param name="Namespace">Containing namespace, as written in C# (empty for the global namespace).</param>
    /// <param name="ClassName">The class's name, escaped with <c>@</c> where it is a keyword.</param>
    /// <param name="Keyword">The declaration keyword to repeat in the generated part: <c>class</c> or <c>record</c>.</param>
    /// <param name="Accessibility">The declared accessibility (<c>public</c>, <c>internal</c>, or empty).</param>
    /// <param name="IsStatic">The class is static; the generated part says so too.</param>
    /// <param name="IsPartial">The class is declared <c>partial</c> (required).</param>
    /// <param name="IsGeneric">The class has type parameters (unsupported).</param>
    /// <param name="IsNested">The class is declared inside another type (unsupported).</param>
    /// <param name="Path">The attribute's path argument; <c>null</c> when it is missing or not a constant string.</param>
    /// <param name="Task">The attribute's <c>Task</c> argument: the one task to generate; <c>null</c> for all.</param>
    internal sealed record ModelTarget(
        string Namespace,
        string ClassName,
        string Keyword,
        string Accessibility,
        bool IsStatic,
        bool IsPartial,
        bool IsGeneric,
        bool IsNested,
        string? Path,
        string? Task = null)
    {
        /// <summary>The hint name of the generated file, e.g. <c>Demo.DemoModel.FiRST.g.cs</c>.</summary>
        public string HintName
        {
            get
            {
                string name = (Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName).Replace("@", "");
                return name + ".FiRST.g.cs";
            }
        }
    }
}

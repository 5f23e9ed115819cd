namespace FiRST.Evaluation;

/// <summary>
/// One report from a long pass (training, calibration): how far one stage of it is, and the line a log prints
/// for it. Both tools show these: as progress bars on a terminal, as the plain lines otherwise. It lives here
/// because this is the torch-free library that training, evaluation and both tools share.
/// </summary>
/// <param name="Stage">What runs, such as <c>lambda 0.045</c> or <c>copy: mask</c>; each stage is one bar. Empty for a note.</param>
/// <param name="Done">Units of the stage done.</param>
/// <param name="Total">Units in the stage.</param>
public readonly record struct PassProgress(string Stage, long Done, long Total)
{
    /// <summary>The smoothed training loss at this point, where the pass has one.</summary>
    public double? Loss { get; init; }

    /// <summary>The line a log prints for this report; null when the report only moves a bar.</summary>
    public string? Line { get; init; }

    /// <summary>
    /// True when <see cref="Line"/> is a finding (a task's chosen mask, a file written) that a terminal keeps
    /// above the bars too; false for a step's summary, which the bar replaces there.
    /// </summary>
    public bool Finding { get; init; }

    /// <summary>A finding that belongs to no bar.</summary>
    public static PassProgress Note(string line) => new("", 0, 0) { Line = line, Finding = true };
}

using System;

namespace FiRST.Gen.Parsing
{
    /// <summary>A problem with the model as a whole (FIRST006); ends parsing.</summary>
    internal sealed class ModelError : Exception
    {
        /// <summary>Creates the error; <paramref name="message"/> becomes the diagnostic's reason.</summary>
        public ModelError(string message)
            : base(message)
        {
        }
    }
}

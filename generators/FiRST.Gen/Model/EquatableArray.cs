using System;
using System.Collections;
using System.Collections.Generic;

namespace FiRST.Gen.Model
{
    /// <summary>
    /// An immutable array compared by its elements. Incremental pipeline steps compare their outputs with
    /// <see cref="object.Equals(object)"/> to decide whether later steps may reuse cached results; plain
    /// arrays and <c>ImmutableArray</c> compare by reference, which would defeat that caching.
    /// </summary>
    /// <typeparam name="T">Element type; must itself have value equality.</typeparam>
    internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
        where T : IEquatable<T>
    {
        private readonly T[]? _items;

        /// <summary>Wraps <paramref name="items"/>; the caller must not change the array afterwards.</summary>
        public EquatableArray(T[] items) => _items = items;

        /// <summary>An array with no elements.</summary>
        public static EquatableArray<T> Empty => new EquatableArray<T>(Array.Empty<T>());

        /// <summary>Number of elements.</summary>
        public int Count => _items?.Length ?? 0;

        /// <summary>The element at <paramref name="index"/>.</summary>
        public T this[int index] => (_items ?? Array.Empty<T>())[index];

        /// <inheritdoc />
        public bool Equals(EquatableArray<T> other)
        {
            var a = _items ?? Array.Empty<T>();
            var b = other._items ?? Array.Empty<T>();
            if (a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
                if (!EqualityComparer<T>.Default.Equals(a[i], b[i])) return false;
            return true;
        }

        /// <inheritdoc />
        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        /// <inheritdoc />
        public override int GetHashCode()
        {
            // FNV-style combination: netstandard2.0 has no System.HashCode.
            unchecked
            {
                int hash = (int)2166136261;
                foreach (var item in _items ?? Array.Empty<T>())
                    hash = (hash ^ (item is null ? 0 : item.GetHashCode())) * 16777619;
                return hash;
            }
        }

        /// <summary>True when both arrays hold equal elements in the same order.</summary>
        public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);

        /// <summary>True when the arrays differ.</summary>
        public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);

        /// <inheritdoc />
        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? Array.Empty<T>())).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Conversions to <see cref="EquatableArray{T}"/>.</summary>
    internal static class EquatableArray
    {
        /// <summary>Copies <paramref name="items"/> into an equatable array.</summary>
        public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items)
            where T : IEquatable<T>
            => new EquatableArray<T>(new List<T>(items).ToArray());
    }
}

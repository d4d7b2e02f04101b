using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Elementwise arithmetic, comparisons, reductions and in-place updates (ops_math.cpp).</summary>
public sealed unsafe partial class Tensor
{
    private enum Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, And, Or }
    private enum WithScalar { Add, Sub, Mul, Div, Pow, ReverseSub, ReverseDiv, Eq, Ne, Lt, Le, Gt, Ge }
    private enum Unary { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Abs, Sigmoid, Relu, Square, Not, IsNaN, IsInf, Sign, Reciprocal }
    private enum Reduction { Sum, Mean, Max, Min, ArgMax, ArgMin, LogSumExp, Any, All }
    private const int AllDims = int.MinValue;

    private static Tensor Apply(Binary op, Tensor a, Tensor b) => new(g2t_binary((int)op, a.Handle, b.Handle));
    private static Tensor Apply(WithScalar op, Tensor a, double s) => new(g2t_scalar_op((int)op, a.Handle, s));
    private Tensor Apply(Unary op) => new(g2t_unary((int)op, Handle));
    private Tensor Reduce(Reduction op, int dim, bool keepDim) => new(g2t_reduce((int)op, Handle, dim, keepDim ? 1 : 0));

    public static Tensor operator +(Tensor a, Tensor b) => Apply(Binary.Add, a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Apply(Binary.Sub, a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Apply(Binary.Mul, a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Apply(Binary.Div, a, b);
    public static Tensor operator +(Tensor a, double s) => Apply(WithScalar.Add, a, s);
    public static Tensor operator -(Tensor a, double s) => Apply(WithScalar.Sub, a, s);
    public static Tensor operator *(Tensor a, double s) => Apply(WithScalar.Mul, a, s);
    public static Tensor operator /(Tensor a, double s) => Apply(WithScalar.Div, a, s);
    public static Tensor operator +(double s, Tensor a) => Apply(WithScalar.Add, a, s);
    public static Tensor operator -(double s, Tensor a) => Apply(WithScalar.ReverseSub, a, s);
    public static Tensor operator *(double s, Tensor a) => Apply(WithScalar.Mul, a, s);
    public static Tensor operator /(double s, Tensor a) => Apply(WithScalar.ReverseDiv, a, s);
    public static Tensor operator -(Tensor a) => a.Apply(Unary.Neg);

    public Tensor Pow(Tensor exponent) => Apply(Binary.Pow, this, exponent);
    public Tensor Pow(double exponent) => Apply(WithScalar.Pow, this, exponent);
    public Tensor Maximum(Tensor other) => Apply(Binary.Maximum, this, other);
    public Tensor Minimum(Tensor other) => Apply(Binary.Minimum, this, other);
    public Tensor Eq(Tensor other) => Apply(Binary.Eq, this, other);
    public Tensor Ne(Tensor other) => Apply(Binary.Ne, this, other);
    public Tensor Lt(Tensor other) => Apply(Binary.Lt, this, other);
    public Tensor Le(Tensor other) => Apply(Binary.Le, this, other);
    public Tensor Gt(Tensor other) => Apply(Binary.Gt, this, other);
    public Tensor Ge(Tensor other) => Apply(Binary.Ge, this, other);
    public Tensor Eq(double s) => Apply(WithScalar.Eq, this, s);
    public Tensor Ne(double s) => Apply(WithScalar.Ne, this, s);
    public Tensor Lt(double s) => Apply(WithScalar.Lt, this, s);
    public Tensor Le(double s) => Apply(WithScalar.Le, this, s);
    public Tensor Gt(double s) => Apply(WithScalar.Gt, this, s);
    public Tensor Ge(double s) => Apply(WithScalar.Ge, this, s);
    public Tensor And(Tensor other) => Apply(Binary.And, this, other);
    public Tensor Or(Tensor other) => Apply(Binary.Or, this, other);

    public Tensor Exp() => Apply(Unary.Exp);
    public Tensor Log() => Apply(Unary.Log);
    public Tensor Sqrt() => Apply(Unary.Sqrt);
    public Tensor Rsqrt() => Apply(Unary.Rsqrt);
    public Tensor Tanh() => Apply(Unary.Tanh);
    public Tensor Abs() => Apply(Unary.Abs);
    public Tensor Sigmoid() => Apply(Unary.Sigmoid);
    public Tensor Relu() => Apply(Unary.Relu);
    public Tensor Square() => Apply(Unary.Square);
    public Tensor Not() => Apply(Unary.Not);
    public Tensor IsNaN() => Apply(Unary.IsNaN);
    public Tensor IsInf() => Apply(Unary.IsInf);
    public Tensor Sign() => Apply(Unary.Sign);
    public Tensor Reciprocal() => Apply(Unary.Reciprocal);

    public Tensor Sum() => Reduce(Reduction.Sum, AllDims, false);
    public Tensor Sum(int dim, bool keepDim = false) => Reduce(Reduction.Sum, dim, keepDim);
    public Tensor Mean() => Reduce(Reduction.Mean, AllDims, false);
    public Tensor Mean(int dim, bool keepDim = false) => Reduce(Reduction.Mean, dim, keepDim);
    public Tensor Max() => Reduce(Reduction.Max, AllDims, false);
    public Tensor Max(int dim, bool keepDim = false) => Reduce(Reduction.Max, dim, keepDim);
    public Tensor Min() => Reduce(Reduction.Min, AllDims, false);
    public Tensor Min(int dim, bool keepDim = false) => Reduce(Reduction.Min, dim, keepDim);
    public Tensor ArgMax() => Reduce(Reduction.ArgMax, AllDims, false);
    public Tensor ArgMax(int dim, bool keepDim = false) => Reduce(Reduction.ArgMax, dim, keepDim);
    public Tensor ArgMin(int dim, bool keepDim = false) => Reduce(Reduction.ArgMin, dim, keepDim);
    public Tensor LogSumExp(int dim, bool keepDim = false) => Reduce(Reduction.LogSumExp, dim, keepDim);
    public Tensor Any() => Reduce(Reduction.Any, AllDims, false);
    public Tensor All() => Reduce(Reduction.All, AllDims, false);

    /// <summary>Matrix product with batching and broadcasting (torch.matmul).</summary>
    public Tensor MatMul(Tensor other) => new(g2t_matmul(Handle, other.Handle));
    /// <summary>bias + a @ b for 2-D a and b, one BLAS call.</summary>
    public static Tensor AddMm(Tensor bias, Tensor a, Tensor b) => new(g2t_addmm(bias.Handle, a.Handle, b.Handle));
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => new(g2t_where(condition.Handle, a.Handle, b.Handle));
    public Tensor MaskedFill(Tensor mask, double value) => new(g2t_masked_fill(Handle, mask.Handle, value));
    public Tensor Clamp(double low, double high) => new(g2t_clamp(Handle, low, high));
    public Tensor Triu(long diagonal = 0) => new(g2t_triu(Handle, diagonal));
    public Tensor Tril(long diagonal = 0) => new(g2t_tril(Handle, diagonal));
    public Tensor CumSum(long dim) => new(g2t_cumsum(Handle, dim));

    // In place, outside autograd (for optimizers, initialisation and buffers).
    /// <summary>this += alpha * other.</summary>
    public void AddInPlace(Tensor other, double alpha = 1) => Check(g2t_inplace(0, Handle, other.Handle, alpha));
    public void MulInPlace(Tensor other) => Check(g2t_inplace(1, Handle, other.Handle, 0));
    /// <summary>this = other (broadcasting, converting dtype and device).</summary>
    public void CopyInPlace(Tensor other) => Check(g2t_inplace(2, Handle, other.Handle, 0));
    /// <summary>this += weight * (other - this).</summary>
    public void LerpInPlace(Tensor other, double weight) => Check(g2t_inplace(3, Handle, other.Handle, weight));
    public void FillInPlace(double value) => Check(g2t_inplace_scalar(0, Handle, value));
    public void AddInPlace(double value) => Check(g2t_inplace_scalar(1, Handle, value));
    public void MulInPlace(double value) => Check(g2t_inplace_scalar(2, Handle, value));
    public void ZeroInPlace() => Check(g2t_inplace_scalar(3, Handle, 0));
    /// <summary>Fills with normal values of mean 0 and the given standard deviation (default generator).</summary>
    public void NormalInPlace(double std) => Check(g2t_inplace_scalar(4, Handle, std));
    /// <summary>Fills with uniform values in [-bound, bound) (default generator).</summary>
    public void UniformInPlace(double bound) => Check(g2t_inplace_scalar(5, Handle, bound));
}

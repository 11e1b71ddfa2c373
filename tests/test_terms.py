"""Term arithmetic by hand: like terms merged in first-seen order with float exponents,
scaling, item values (the max of alternatives) — with scalar and array coefficients."""

import numpy as np

from planner.terms import CostItem, Term, merge_like_terms, posy_value, scale_terms


def test_merge_like_terms_sums_equal_exponents_in_first_seen_order():
    p = (Term(2.0, 1, 0), Term(3.0, 2 / 3, 0), Term(5.0, 1.0, 0.0), Term(7.0, 0, 0),
         Term(11.0, 2 / 3, 0))
    out = merge_like_terms(p)
    assert out == (Term(7.0, 1.0, 0.0), Term(14.0, 2 / 3, 0.0), Term(7.0, 0.0, 0.0))
    assert all(type(x) is float for t in out for x in t[1:])  # exponents as floats
    assert posy_value(out, 4e9, 1e12) == posy_value(p, 4e9, 1e12)


def test_merge_and_scale_keep_array_coefficients_elementwise():
    a = np.array([1.0, 2.0, 3.0])
    p = (Term(a, 1, 0), Term(10.0, 0, 1), Term(2 * a, 1, 0))
    out = merge_like_terms(p)
    assert [t[1:] for t in out] == [(1.0, 0.0), (0.0, 1.0)]
    np.testing.assert_array_equal(out[0].coef, [3.0, 6.0, 9.0])
    assert out[1].coef == 10.0
    scaled = scale_terms(out, np.array([1.0, 0.5, 2.0]))
    np.testing.assert_array_equal(scaled[0].coef, [3.0, 3.0, 18.0])
    np.testing.assert_array_equal(scaled[1].coef, [10.0, 5.0, 20.0])
    assert Term(4.0, 1, 0).scaled(0.25) == Term(1.0, 1, 0)


def test_item_value_is_the_largest_alternative_with_nan_winning():
    n = np.array([1.0, 2.0, 3.0])
    item = CostItem("x", ((Term(np.array([5.0, 1.0, np.nan]), 1, 0),),
                          (Term(2.0, 2, 0),),
                          (Term(1.0, 0, 0),)))
    # alternatives at n = 1, 2, 3: [5, 2, nan], [2, 8, 18], [1, 1, 1]
    v = item.value(n, 1.0)
    np.testing.assert_array_equal(v[:2], [5.0, 8.0])
    assert np.isnan(v[2])
    scalar = CostItem("y", ((Term(5.0, 1, 0),), (Term(2.0, 2, 0),)))
    assert scalar.value(3.0, 1.0) == 18.0 and scalar.value(2.0, 1.0) == 10.0

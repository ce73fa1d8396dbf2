"""The demo summary shows each product's model AUC."""

from demo.summary import model_lines


def test_summary_lines_show_each_products_auc_and_the_fallback():
    lines = model_lines(
        {"SAVINGS_PLUS": (2, "active", 0.8123), "HOME_INSURANCE": (1, "candidate", 0.41)}
    )
    assert lines[0] == "  Models:     2 products (held-out ROC AUC):"
    assert "SAVINGS_PLUS" in lines[2] and "v2 AUC 0.812 (active)" in lines[2]
    assert "HOME_INSURANCE" in lines[1] and "AUC 0.410 (candidate)" in lines[1]
    assert "smoothed acceptance rate used" in lines[1]
    assert "none trained" in model_lines({})[0]

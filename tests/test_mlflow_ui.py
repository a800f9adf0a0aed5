"""Issue #19: the MLflow comparison and the Snakemake report as a person sees them, in a real headless
browser (Debian's chromium and chromedriver, installed by `make test` through tests/browser/ensure_browser.sh).
Screenshots go to test-artifacts/ at the repository root."""

import shutil
import time

import pytest

from workflow_helpers import N_CELLS, ROOT, TINY_CELLS, TINY_PAPER_CELLS, mlflow_server, snake

SHOTS = ROOT / "test-artifacts"


def _why_no_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return "no chromium/chromedriver on PATH (bash tests/browser/ensure_browser.sh installs them as root)"
    return None


_WHY = _why_no_browser()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"no headless browser here: {_WHY}")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,2400"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _wait(predicate, timeout=60.0, step=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
        except Exception:  # the page is still rendering
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting for the page")


LOADED = "return Array.from(document.images).filter(i => i.complete).map(i => i.naturalWidth)"


def test_mlflow_ui_shows_the_cells_and_the_parent_runs_figures(tiny_run, browser):
    from selenium.webdriver.common.by import By

    work, _ = tiny_run
    with mlflow_server(work) as (base, exp):
        eid = exp["experiment"]["experiment_id"]
        # the documented URL (README): the experiment opens on its runs table
        browser.get(f"{base}/#/experiments/{eid}?workflowType=machine_learning")
        parent = _wait(lambda: browser.find_element(By.PARTIAL_LINK_TEXT, "sqs-tiny @"))
        cell = parent.find_element(By.XPATH, "./ancestor::div[@role='gridcell'][1]")
        cell.find_element(By.TAG_NAME, "button").click()  # the parent's child runs, one row per cell
        selector = "div[col-id='attributes.`Run Name`'] a"
        names = _wait(lambda: (n := [a.text for a in browser.find_elements(By.CSS_SELECTOR, selector)])
                      and len(n) == N_CELLS + 1 and n)  # fmt: skip
        browser.save_screenshot(str(SHOTS / "mlflow_runs.png"))
        children = [n for n in names if not n.startswith("sqs-tiny @")]
        assert len(children) == N_CELLS
        for t in ("T=0.5 (practical)", "T=1 (practical)"):  # every cell named by scheme, setting, T and regime
            assert {n.split(" ")[0] for n in children if n.endswith(t)} == {"ar", "qs", "k-sqs", "c-sqs", "top-p"}
        assert {n.split(" ")[0] for n in children if n.endswith("T=1 (paper)")} == {"ar", "qs", "k-sqs", "c-sqs"}
        assert "k-sqs K=4 T=0.5 (practical)" in children and "c-sqs β₁=0.01 η=0.001 T=1 (paper)" in children
        # the documented comparison of one temperature (docs/workflow.md): a search filter in the URL
        browser.get(f"{base}/#/experiments/{eid}/runs?workflowType=machine_learning"
                    "&searchFilter=params.temperature%20%3D%20%271.0%27")  # fmt: skip
        parent = _wait(lambda: browser.find_element(By.PARTIAL_LINK_TEXT, "sqs-tiny @"))
        time.sleep(2)  # the table keeps the parent expanded from before, or shows it collapsed
        if len(browser.find_elements(By.CSS_SELECTOR, selector)) == 1:
            parent.find_element(By.XPATH, "./ancestor::div[@role='gridcell'][1]").find_element(
                By.TAG_NAME, "button"
            ).click()
        at_one = len(TINY_CELLS) + len(TINY_PAPER_CELLS)  # the practical cells at T = 1 and every paper cell
        one_t = _wait(lambda: (n := [a.text for a in browser.find_elements(By.CSS_SELECTOR, selector)])
                      and len(n) == at_one + 1 and n)  # fmt: skip
        browser.save_screenshot(str(SHOTS / "mlflow_one_temperature.png"))
        assert all(" T=1 (" in n for n in one_t if not n.startswith("sqs-tiny @"))
        # a figure logged on the parent run, loaded and decoded by the browser in the run's artifact view
        pid = parent.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]
        browser.get(f"{base}/#/experiments/{eid}/runs/{pid}/artifacts/figures/practical/fig_baselines.png")
        widths = _wait(lambda: [w for w in browser.execute_script(LOADED) if w > 1000])
        browser.save_screenshot(str(SHOTS / "mlflow_parent_figure.png"))
        assert widths


def test_report_html_renders_every_figure_with_its_caption(tiny_run, browser, tmp_path):
    from selenium.webdriver.common.by import By

    _, args = tiny_run
    report = tmp_path / "report.html"
    out = snake(*args, "--report", str(report))
    assert out.returncode == 0, out.stderr[-3000:]
    browser.get(report.as_uri())
    _wait(lambda: browser.execute_script("return typeof results === 'object' && Object.keys(results).length"))
    # every image result decodes in the browser, and every result has a caption
    checked = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const items = Object.values(results);
        Promise.all(items.map(r => new Promise(ok => {
            if (!r.mime_type.startsWith('image/')) { ok([r.name, r.mime_type, -1, r.caption || '']); return; }
            const img = new Image();
            img.onload = () => ok([r.name, r.mime_type, img.naturalWidth, r.caption || '']);
            img.onerror = () => ok([r.name, r.mime_type, 0, r.caption || '']);
            img.src = r.data_uri;
        }))).then(done);
    """)
    images = [c for c in checked if c[1].startswith("image/")]
    assert len(images) >= 14, checked
    for name, _, _, caption in checked:
        assert caption.strip(), f"{name} has no caption"
    assert all(width > 100 for _, _, width, _ in images), [(n, w) for n, _, w, _ in images if w <= 100]
    browser.find_element(By.XPATH, "//*[text()='Figures']").click()
    row = _wait(lambda: browser.find_element(By.XPATH, "//td[contains(text(), 'fig_regimes.png')]/ancestor::tr[1]"))
    row.find_element(By.CSS_SELECTOR, "a[iconname='eye']").click()  # the entry's view button
    shown = _wait(lambda: [w for w in browser.execute_script(LOADED) if w > 1000])
    browser.save_screenshot(str(SHOTS / "report_figure.png"))
    assert shown

"""A look at one page of the window, at the two sizes a person checks by eye,
and its controls walked with the keyboard alone. Not part of the test run:
`LOOK_VIEW=settings xvfb-run … bash tests/e2e/session.sh tests/e2e/look.py`
writes /tmp/look-VIEW-WxH.png (and -end.png, scrolled to the page's end) and
prints the focus order from the page's first control. LOOK_VIEW is a tab's
name (reports by month by default)."""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from helpers import session, wait_until, tab, save_screenshot, keys  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

APP = Path(os.environ.get("POWERDECK_BIN_DIR", "target/debug")) / "powerdeck"
VIEW = os.environ.get("LOOK_VIEW", "reports")


def reports_by_month(driver):
    Select(driver.find_element(By.ID, "report-by")).select_by_value("month")
    this_month = time.strftime("%Y-%m")
    wait_until("bars", lambda: driver.find_elements(By.CSS_SELECTOR, f'#report-accounts g[data-row="{this_month}"] rect'))


PREPARE = {"reports": reports_by_month}
FOCUSABLE = "input:not([type=hidden]), select, button, textarea, a[href], [tabindex='0']"
SHOWN = "return document.activeElement === document.body ? 'body' : (document.activeElement.closest('label')?.textContent.trim().slice(0, 40) || document.activeElement.textContent.trim().slice(0, 40) || document.activeElement.id || document.activeElement.tagName)"


def main():
    driver = session(APP.resolve())
    try:
        wait_until("rows", lambda: driver.execute_script("return document.body.dataset.ready") == "true")
        tab(driver, VIEW)
        PREPARE.get(VIEW, lambda _: None)(driver)
        page = driver.find_element(By.ID, VIEW)
        for w, h in ((1024, 640), (1440, 900)):
            driver.set_window_size(w, h)
            time.sleep(0.5)
            save_screenshot(driver, f"/tmp/look-{VIEW}-{w}x{h}.png")
            driver.execute_script("arguments[0].scrollTop = arguments[0].scrollHeight", page)
            time.sleep(0.3)
            save_screenshot(driver, f"/tmp/look-{VIEW}-{w}x{h}-end.png")
            driver.execute_script("arguments[0].scrollTop = 0", page)
        driver.execute_script(f"arguments[0].querySelector(\"{FOCUSABLE}\").focus()", page)
        order = []
        for _ in range(int(os.environ.get("LOOK_TABS", "30"))):
            order.append(driver.execute_script(SHOWN))
            keys(driver, Keys.TAB)
        print("focus order:\n  " + "\n  ".join(order))
    finally:
        driver.quit()


main()

"""A look at the Reports page by month, at the two sizes a person checks by
eye, and its controls walked with the keyboard alone. Not part of the test
run: `xvfb-run … bash tests/e2e/session.sh tests/e2e/look_reports.py`
writes /tmp/reports-month-*.png and prints the focus order."""
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


def main():
    driver = session(APP.resolve())
    try:
        wait_until("rows", lambda: driver.execute_script("return document.body.dataset.ready") == "true")
        tab(driver, "reports")
        Select(driver.find_element(By.ID, "report-by")).select_by_value("month")
        this_month = time.strftime("%Y-%m")
        wait_until("bars", lambda: driver.find_elements(By.CSS_SELECTOR, f'#report-accounts g[data-row="{this_month}"] rect'))
        for w, h in ((1024, 640), (1440, 900)):
            driver.set_window_size(w, h)
            time.sleep(0.5)
            save_screenshot(driver, f"/tmp/reports-month-{w}x{h}.png")
        driver.find_element(By.ID, "report-month").click()
        order = []
        for _ in range(12):
            order.append(driver.execute_script("const a = document.activeElement; return a.id || a.tagName + '.' + a.className"))
            keys(driver, Keys.TAB)
        print("focus order:", " → ".join(order))
    finally:
        driver.quit()


main()

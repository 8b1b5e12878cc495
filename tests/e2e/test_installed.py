#!/usr/bin/env python3
"""The installed package's app (POWERDECK_E2E_APP, /usr/bin/powerdeck) on a
first start: it opens on the demo fleet and shows its rows. Prints the time
from launch to the first rows (BENCHMARKS.md). Run by tests/deb/test.sh."""

import os
import time

from selenium.webdriver.common.by import By

from helpers import DATA, run, session, wait_until

APP = os.environ["POWERDECK_E2E_APP"]


def main():
    asked = time.monotonic()
    driver = session(APP, "--data-dir", DATA)
    try:
        wait_until("the demo fleet's rows show", lambda: driver.execute_script("return document.body.dataset.ready") == "true"
                   and len(driver.find_elements(By.CSS_SELECTOR, ".row:not([hidden])")) > 10, patience=90)
        to_rows = time.monotonic() - asked
        wait_until("it says it runs on the demo fleet", lambda: "demo fleet" in driver.find_element(By.ID, "demo-banner").text)
        summary = driver.find_element(By.ID, "summary").text
        assert "VM" in summary, summary
        print(f"installed app: first rows {to_rows:.2f} s after launch (WebDriver session included); {summary}")
    finally:
        driver.quit()


if __name__ == "__main__":
    run(main, "installed app")

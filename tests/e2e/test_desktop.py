#!/usr/bin/env python3
"""Powerdeck as a desktop citizen, end to end with the real binary: the log
file, Copy diagnostics (no secret in it), start at login (into the tray),
one instance per data directory (a second launch brings the first window
forward and exits), the window's size, page and order remembered
across a real quit and start, and a stop the window was tracking when the
app was killed (kill -9) carried on by the next start. Run by tests/e2e/session.sh after the main
scenario, with its own data directory and XDG folders."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from helpers import DATA, ROOT, click, dialog_open, latest_op, pdk, power_menu, run, search, session, tab, wait_until

APP = Path(os.environ.get("POWERDECK_E2E_APP", ROOT / "target" / "debug" / "powerdeck"))
CONFIG = Path(os.environ["XDG_CONFIG_HOME"])
LOG = Path(DATA) / "logs" / "powerdeck.log"
# The secret of the EC2 account added below: in the app's environment
# (session.sh exports it), never in anything the app shows or copies.
SECRET_VAR = "POWERDECK_E2E_DIAG_SECRET"
ACCESS_KEY = "AKIAE2EDIAGNOSTICS01"
ACCOUNT = "acme-billing-prod"


def launch(*args):
    driver = session(APP, "--data-dir", DATA, *args)
    if "--hidden" not in args:  # a hidden page draws no frame, so it never says "ready"
        wait_until("the window is ready", lambda: ready(driver), patience=60)
    return driver


def ready(driver):
    return driver.execute_script("return document.body.dataset.ready") == "true"


def app_processes():
    """The powerdeck processes running on this test's data directory."""
    out = subprocess.run(["pgrep", "-f", "--", f"powerdeck( .*)? --data-dir {DATA}( |$)"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def visibility(driver):
    return driver.execute_script("return document.visibilityState")


def diagnostics(driver, with_names):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.__TAURI__.core.invoke('copy_diagnostics', { withNames: arguments[0] }).then(done, (e) => done('ERROR ' + JSON.stringify(e)))", with_names)


def log_and_diagnostics(driver):
    wait_until("the log file is written", lambda: LOG.exists() and "starting" in LOG.read_text())
    assert LOG.stat().st_mode & 0o777 == 0o600, "only its owner reads the log"
    tab(driver, "settings")
    wait_until("the settings show the log folder", lambda: driver.find_element(By.ID, "log-folder").text == str(LOG.parent))
    Select(driver.find_element(By.ID, "log-level")).select_by_value("debug")
    wait_until("the new level applies at once", lambda: 'log level changed level="debug"' in LOG.read_text() or "log level changed level=debug" in LOG.read_text())

    # Copy diagnostics: the button says it copied; the text holds kinds and
    # health, and no secret, key, endpoint or name unless ticked.
    driver.find_element(By.ID, "copy-diagnostics").click()
    wait_until("it says it copied", lambda: "Diagnostics copied" in driver.find_element(By.ID, "desktop-result").text)
    plain = diagnostics(driver, False)
    assert plain.startswith("Powerdeck diagnostics"), plain
    assert "ec2: 1 " in plain and "sim: 1 " in plain, plain
    for private in (os.environ[SECRET_VAR], SECRET_VAR, ACCESS_KEY, "127.0.0.1:9", ACCOUNT):
        assert private not in plain, f"{private!r} is in the diagnostics:\n{plain}"
    named = diagnostics(driver, True)
    for secret in (os.environ[SECRET_VAR], SECRET_VAR, ACCESS_KEY):
        assert secret not in named, f"{secret!r} is in the diagnostics with names:\n{named}"
    for secret in (os.environ[SECRET_VAR], ACCESS_KEY):
        assert secret not in LOG.read_text(), f"{secret!r} is in the log file"


def start_at_login(driver):
    entry = CONFIG / "autostart" / "Powerdeck.desktop"
    box = driver.find_element(By.ID, "start-at-login")
    assert not box.is_selected() and not entry.exists(), "off by default"
    box.click()
    wait_until("a login entry is made", entry.exists)
    text = entry.read_text()
    assert "--hidden" in text and f"--data-dir {DATA}" in text, text
    box.click()
    wait_until("and removed", lambda: not entry.exists())
    box.click()
    wait_until("made again", entry.exists)


def quit_by_keyboard(driver):
    """Ctrl+Q with nothing in flight quits at once; the session ends with the app."""
    pid = app_processes()
    try:
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("q").key_up(Keys.CONTROL).perform()
    except WebDriverException:
        pass  # the app may be gone before the key-up is answered
    wait_until("the app quits", lambda: not app_processes(), patience=20)
    try:
        driver.quit()
    except WebDriverException:
        pass  # its application is gone already
    assert pid, "it was running"


def start_error():
    """A data directory that cannot be opened: a window says what, where and
    what to do (someone who started Powerdeck from a menu sees no stderr)."""
    bad = Path(DATA) / "not-a-folder"
    bad.write_text("a file where the data folder should be")
    driver = session(APP, "--data-dir", str(bad))
    try:
        wait_until("the error window says what is wrong", lambda: "a file is in the way" in driver.find_element(By.ID, "error-what").text)
        assert driver.find_element(By.ID, "error-where").text == str(bad)
        assert "--data-dir" in driver.find_element(By.ID, "error-fix").text
        assert driver.title == "Powerdeck cannot start", driver.title
    finally:
        driver.quit()
    bad.unlink()


def killed_while_tracking():
    """kill -9 while the window tracks a stop: nothing is lost. The next
    start adopts the operation from the journal (its owner is gone) and
    tracks it to a verified end, without sending it again or forcing it."""
    pdk("accounts", "add", "sim", "slow", "--size", "3", "--seed", "11", "--failure-rate", "0", "--stubborn-rate", "0",
        "--drift-per-hour", "0", "--stop-delay-ms", "8000")
    pdk("sync", "--account", "slow")
    vm = next(v for v in json.loads(pdk("vms", "list", "--json")) if v["account"] == "slow" and v["state"] == "running")
    # The demo fleet has VMs of the same names: the row is found by id, pdk is given account/name.
    ref, row_id = f"slow/{vm['name']}", f"row-{vm['id']}"

    def cell(driver, which):
        found = driver.find_elements(By.CSS_SELECTOR, f"#{row_id} {which}")
        return found[0].text if found else ""

    driver = launch()
    try:
        tab(driver, "inventory")
        search(driver, vm["name"])
        wait_until("its row is shown", lambda: driver.find_elements(By.ID, row_id))
        # As select_only does: the rows are redrawn as the search narrows them.
        click("select the slow VM", lambda: driver.find_element(By.CSS_SELECTOR, f"#{row_id} .c-sel input"))
        wait_until("it is selected", lambda: driver.find_element(By.ID, "selection-count").text.startswith("1 selected"))
        power_menu(driver)
        driver.find_element(By.CSS_SELECTOR, '#menu [data-item="stop"]').click()
        wait_until("the plan opens", lambda: dialog_open(driver))
        driver.find_element(By.ID, "confirm-ok").click()
        wait_until("the row says it is waiting", lambda: "Waiting for status update…" in cell(driver, ".c-status"))
        [pid] = app_processes()
        os.kill(pid, signal.SIGKILL)
    finally:
        try:
            driver.quit()
        except WebDriverException:
            pass  # the app it drove is gone
    wait_until("the app is gone", lambda: not app_processes())
    op = latest_op(ref)
    assert op["kind"] == "stop" and op["phase"] in ("submitted", "tracking"), f"the stop was in flight when the app died: {op}"
    assert op["initiator"] == "window", op

    driver = launch()
    try:
        wait_until("the stop ends verified", lambda: latest_op(ref)["phase"] == "succeeded", patience=60)
        done = latest_op(ref)
        assert done["id"] == op["id"] and done["new_state"] == "stopped", f"the same operation, carried on: {done}"
        assert done["shutdown_method"] == "graceful", f"asked of the guest, never forced: {done}"
        tab(driver, "inventory")
        search(driver, vm["name"])
        wait_until("the window shows it stopped", lambda: cell(driver, ".c-state") == "stopped" and "Waiting" not in cell(driver, ".c-status"))
        assert len(json.loads(pdk("ops", ref, "--json"))) == 1, "nothing was asked again"
    finally:
        driver.quit()


def main():
    start_error()
    pdk("vms", "list")  # makes the demo fleet
    pdk("accounts", "add", "ec2", ACCOUNT, "--region", "eu-west-1", "--endpoint", "http://127.0.0.1:9",
        "--access-key-id", ACCESS_KEY, "--secret-env", SECRET_VAR)

    driver = launch()
    try:
        assert visibility(driver) == "visible", "a normal start shows the window"
        log_and_diagnostics(driver)
        start_at_login(driver)

        # A second launch on the same data hands over and exits.
        second = subprocess.run([str(APP), "--data-dir", DATA], capture_output=True, text=True, timeout=30)
        assert second.returncode == 0, f"the second launch exited {second.returncode}: {second.stderr!r} {second.stdout!r}"
        wait_until("the first window heard it", lambda: "another launch asked for this window" in LOG.read_text())
        assert len(app_processes()) == 1, "still one instance"

        # Remembered across a real quit: size, page, order.
        driver.set_window_size(1100, 700)
        tab(driver, "inventory")
        driver.find_element(By.CSS_SELECTOR, 'button.sort[data-sort="state"]').click()
        tab(driver, "activity")
        time.sleep(0.5)  # the webview writes its storage on its own schedule
        quit_by_keyboard(driver)
    except AssertionError:
        driver.quit()
        raise
    state_file = CONFIG / "dev.powerdeck.desktop" / ".window-state.json"
    assert state_file.exists(), "the window's geometry was saved at quit"
    saved = json.loads(state_file.read_text())["main"]
    assert (saved["width"], saved["height"]) == (1100, 700), saved

    # The login start: hidden in the tray, and a launch from the menu brings it forward.
    driver = launch("--hidden")
    try:
        wait_until("the page has loaded", lambda: driver.execute_script("return document.readyState") == "complete")
        time.sleep(2)  # a window that would show does so by now
        assert visibility(driver) == "hidden", "a login start shows no window"
        second = subprocess.run([str(APP), "--data-dir", DATA], capture_output=True, text=True, timeout=30)
        assert second.returncode == 0, f"the second launch exited {second.returncode}: {second.stderr!r} {second.stdout!r}"
        wait_until("the window comes forward", lambda: visibility(driver) == "visible" and ready(driver))
        assert len(app_processes()) == 1, "still one instance"
        size = driver.get_window_size()
        assert (size["width"], size["height"]) == (1100, 700), f"the size is remembered: {size}"
        assert driver.execute_script("return document.querySelector('.tab.active').dataset.view") == "activity", "the page is remembered"
        sort = driver.execute_script("return document.querySelector('#grid [aria-sort]:not([aria-sort=\"none\"])')?.id")
        assert sort == "col-state", f"the order is remembered: sorted by {sort}"
    finally:
        driver.quit()
    killed_while_tracking()
    print("e2e desktop: all checks passed")


if __name__ == "__main__":
    run(main, "e2e desktop")

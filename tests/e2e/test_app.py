#!/usr/bin/env python3
"""The desktop app end to end: the real binary in a real WebKit webview,
driven over WebDriver (tauri-driver + WebKitWebDriver), with `pdk` as a
second process on the same data directory and dunst as the notification
daemon. Run by tests/e2e/run.sh inside xvfb-run and dbus-run-session."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import Select

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "target" / "debug" / "powerdeck"
PDK = ROOT / "target" / "debug" / "pdk"
DATA = os.environ["POWERDECK_DATA_DIR"]
VCSIM = os.environ.get("POWERDECK_VCSIM", str(ROOT / "target" / "vcsim"))
# session.sh exports it, so the app (started by tauri-driver) and pdk both see it.
VC_PASSWORD_VAR = "POWERDECK_E2E_VC_PASSWORD"
SCREENSHOT = ROOT / "docs" / "screenshot.png"
PATIENCE = 40.0


def pdk(*args):
    out = subprocess.run([str(PDK), "--data-dir", DATA, *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"pdk {args} failed: {out.stderr}")
    return out.stdout


def wait_until(what, check, patience=PATIENCE):
    deadline = time.time() + patience
    last_error = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except (StaleElementReferenceException, NoSuchElementException) as e:
            # The virtualised grid re-rendered, or a row's actions are not drawn yet
            # (they appear once the row's own operation has settled).
            last_error = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what} ({last_error})")


def click(what, find):
    """Click what `find` returns, finding it again if a re-render replaced it."""
    wait_until(what, lambda: find().click() or True)


def row(driver, name):
    rows = driver.find_elements(By.CSS_SELECTOR, f'.row[data-vm-name="{name}"]')
    return rows[0] if rows else None


def row_text(driver, name, cell):
    r = row(driver, name)
    return r.find_element(By.CSS_SELECTOR, cell).text if r else ""


def search(driver, text):
    box = driver.find_element(By.ID, "search")
    driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
    if text:
        box.send_keys(text)


def tab(driver, view):
    driver.find_element(By.CSS_SELECTOR, f'.tab[data-view="{view}"]').click()


def notifications():
    """What reached the notification daemon (dunst), newest first."""
    out = subprocess.run(["dunstctl", "history"], capture_output=True, text=True)
    if out.returncode != 0:
        return []
    data = json.loads(out.stdout)
    items = data.get("data", [[]])[0]
    return [(i["summary"]["data"], i["body"]["data"]) for i in items]


def start_vcsim(*args):
    """A self-signed vCenter simulator; returns (process, /sdk URL without credentials)."""
    proc = subprocess.Popen([VCSIM, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    scheme, rest = url.split("://", 1)
    return proc, f"{scheme}://{rest.split('@', 1)[-1]}"


def dialog_open(driver):
    return driver.find_element(By.ID, "confirm").get_attribute("open") is not None


def dismiss_every_way(driver, open_dialog, nothing_happened, what):
    """Open a confirmation dialog and leave it by Escape, Cancel, a click
    outside and Enter on the (initially focused) Cancel button: each must
    cancel, however many dialogs were confirmed before."""
    def outside():
        dlg = driver.find_element(By.ID, "confirm")
        ActionChains(driver).move_to_element_with_offset(dlg, 0, -(dlg.size["height"] // 2) - 40).click().perform()

    ways = {
        "Escape": lambda: ActionChains(driver).send_keys(Keys.ESCAPE).perform(),
        "Cancel": lambda: driver.find_element(By.ID, "confirm-cancel").click(),
        "a click outside": outside,
        "Enter on the focused Cancel": lambda: ActionChains(driver).send_keys(Keys.ENTER).perform(),
    }
    for way, dismiss in ways.items():
        open_dialog()
        wait_until(f"the {what} dialog opens", lambda: dialog_open(driver))
        focused = driver.execute_script("return document.activeElement && document.activeElement.id")
        assert focused == "confirm-cancel", f"{what}: the initial focus is on Cancel, not {focused!r}"
        dismiss()
        wait_until(f"{way} closes the {what} dialog", lambda: not dialog_open(driver))
        # Give a wrongly confirmed action time to reach the engine before checking.
        time.sleep(1.0)
        assert nothing_happened(), f"{way} in the {what} dialog performed the action"


def no_operation_on(name):
    return lambda: not json.loads(pdk("ops", name, "--json"))


def main():
    # The demo fleet, created on first use of the data directory.
    vms = json.loads(pdk("vms", "list", "--json"))
    running = [v for v in vms if v["state"] == "running" and v.get("tools") == "running"]
    assert len(running) >= 5, "the demo fleet has running VMs with tools"
    ui_vm, cli_vm = running[0]["name"], running[1]["name"]
    for name in (ui_vm, cli_vm):
        pdk("sim", "stubborn", "demo", name, "--on", "false")

    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": str(APP)})
    driver = webdriver.Remote(command_executor="http://127.0.0.1:4444", options=options)
    try:
        wait_until("the window is ready", lambda: driver.execute_script("return document.body.dataset.ready") == "true")
        wait_until("the demo fleet appears", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms)} VMs"))
        assert driver.find_elements(By.CSS_SELECTOR, ".row"), "rows are rendered"
        # Set a marker that a page reload would wipe.
        driver.execute_script("window.__noReload = 'still here'")

        # Stop a VM through the UI, confirming in the dialog.
        search(driver, ui_vm)
        wait_until("the VM's row is shown", lambda: row(driver, ui_vm))
        row(driver, ui_vm).find_element(By.CSS_SELECTOR, 'button[data-action="stop"]').click()
        wait_until("the confirmation dialog opens", lambda: driver.find_element(By.ID, "confirm").get_attribute("open") is not None)
        assert ui_vm in driver.find_element(By.ID, "confirm-text").text
        driver.find_element(By.ID, "confirm-ok").click()

        wait_until("the row says it is waiting", lambda: "Waiting for status update…" in row_text(driver, ui_vm, ".c-status"))
        wait_until("the row shows the verified stopped state", lambda: row_text(driver, ui_vm, ".c-state") == "stopped" and "Waiting" not in row_text(driver, ui_vm, ".c-status"))
        assert driver.execute_script("return window.__noReload") == "still here", "the page was never reloaded"

        # Safety: after that confirmation, no other way out of a destructive
        # dialog may act: not for one VM, not for a bulk action.
        victim = running[3]["name"]
        search(driver, victim)
        wait_until("the VM's row is shown", lambda: row(driver, victim))
        dismiss_every_way(driver, lambda: click("ask to reboot", lambda: row(driver, victim).find_element(By.CSS_SELECTOR, 'button[data-action="reboot"]')), no_operation_on(victim), "reboot")
        bulk = running[4]["name"]
        search(driver, "")
        for name in (victim, bulk):
            search(driver, name)
            click(f"select {name}", lambda: row(driver, name).find_element(By.CSS_SELECTOR, 'input[type="checkbox"]'))
        search(driver, "")
        wait_until("two VMs are selected", lambda: driver.find_element(By.ID, "bulk-count").text == "2 selected")
        dismiss_every_way(driver, lambda: driver.find_element(By.CSS_SELECTOR, 'button[data-bulk="stop"]').click(), lambda: no_operation_on(victim)() and no_operation_on(bulk)(), "bulk stop")
        driver.find_element(By.ID, "bulk-clear").click()
        search(driver, ui_vm)

        # The notification really reached the daemon.
        wait_until("the notification reaches dunst", lambda: any(ui_vm in s and "done" in s for s, _ in notifications()))

        # The details panel shows the transition, learned from the operation.
        row(driver, ui_vm).find_element(By.CSS_SELECTOR, ".c-name").click()
        wait_until("the history shows stopping then stopped", lambda: driver.find_elements(By.CSS_SELECTOR, '#details .history li[data-to="stopped"]') and driver.find_elements(By.CSS_SELECTOR, '#details .history li[data-to="stopping"]'))
        history = driver.find_element(By.CSS_SELECTOR, "#details .history").text
        assert "operation" in history, history
        assert "graceful" in driver.find_element(By.CSS_SELECTOR, "#details .ops").text

        # Starring makes it a favourite: watched by the engine, listed in the tray.
        driver.find_element(By.CSS_SELECTOR, "#details .star").click()
        wait_until("the star shows", lambda: "Favourite" in driver.find_element(By.CSS_SELECTOR, "#details .star").text)
        watched = [v["name"] for v in json.loads(pdk("vms", "list", "--json")) if v["watched"]]
        assert watched == [ui_vm], watched

        # An operation started by another process shows up by itself.
        pdk("vm", "stop", cli_vm, "--yes", "--no-wait")
        search(driver, cli_vm)
        wait_until("the pdk-started stop shows in the window", lambda: row_text(driver, cli_vm, ".c-state") in ("stopping", "stopped"))
        wait_until("and ends verified stopped", lambda: row_text(driver, cli_vm, ".c-state") == "stopped" and "Waiting" not in row_text(driver, cli_vm, ".c-status"))
        assert driver.execute_script("return window.__noReload") == "still here"

        # Activity: our operations, and a change made behind Powerdeck's back
        # (the simulated cloud changed directly, noticed by a `pdk sync`).
        other = running[2]["name"]
        pdk("sim", "set-state", "demo", other, "STOPPED")
        pdk("sync", "--account", "demo")
        tab(driver, "activity")
        wait_until("the drift is listed", lambda: other in driver.find_element(By.ID, "activity-drift").text)
        assert "running → stopped" in driver.find_element(By.ID, "activity-drift").text
        assert f"Stop {ui_vm}" in driver.find_element(By.ID, "activity-ops").text
        tab(driver, "inventory")

        # "Refresh all" (the tray's item calls the same function) asks every account for a sync.
        driver.find_element(By.ID, "refresh-all").click()
        assert not driver.find_elements(By.CSS_SELECTOR, "#toasts .toast"), "no error after Refresh all"

        # Accounts: add a small demo fleet through the form, test it, remove it.
        tab(driver, "accounts")
        form = driver.find_element(By.ID, "account-form")
        Select(form.find_element(By.NAME, "kind")).select_by_value("sim")
        form.find_element(By.NAME, "account_name").send_keys("lab")
        size = form.find_element(By.NAME, "size")
        size.clear()
        size.send_keys("5")
        form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        wait_until("the new account is listed", lambda: driver.find_elements(By.CSS_SELECTOR, '#accounts-table tr[data-account="lab"]'))
        wait_until("its five VMs join the inventory", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms) + 5} VMs"))
        lab = lambda: driver.find_element(By.CSS_SELECTOR, '#accounts-table tr[data-account="lab"]')
        lab().find_element(By.XPATH, ".//button[text()='Test']").click()
        wait_until("the connection test answers", lambda: "lab: connected" in driver.find_element(By.ID, "accounts-result").text)
        dismiss_every_way(driver, lambda: lab().find_element(By.XPATH, ".//button[text()='Remove']").click(), lambda: any(a["name"] == "lab" for a in json.loads(pdk("accounts", "list", "--json"))), "account removal")
        lab().find_element(By.XPATH, ".//button[text()='Remove']").click()
        wait_until("the removal dialog opens", lambda: dialog_open(driver))
        driver.find_element(By.ID, "confirm-ok").click()
        wait_until("the account is gone", lambda: not driver.find_elements(By.CSS_SELECTOR, '#accounts-table tr[data-account="lab"]'))
        wait_until("and so are its VMs", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms)} VMs"))

        # vSphere: a self-signed host. The form shows the certificate's
        # thumbprint and adds the account only once the admin trusts it.
        vcsim, endpoint = start_vcsim("-tls", "-vm", "1", "-tools", "4", "-tools-boot", "4s")
        try:
            Select(form.find_element(By.NAME, "kind")).select_by_value("vsphere")
            form.find_element(By.NAME, "account_name").send_keys("vc")
            form.find_element(By.NAME, "vs_endpoint").send_keys(endpoint)
            form.find_element(By.NAME, "vs_username").send_keys("administrator@vsphere.local")
            form.find_element(By.NAME, "vs_password_env").send_keys(VC_PASSWORD_VAR)
            form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            wait_until("the certificate prompt opens", lambda: driver.find_element(By.ID, "cert-prompt").is_displayed())
            shown = driver.find_element(By.ID, "cert-thumbprint").text
            assert len(shown) == 95 and shown.count(":") == 31, shown
            assert not driver.find_elements(By.CSS_SELECTOR, '#accounts-table tr[data-account="vc"]'), "nothing is added before the certificate is trusted"
            driver.find_element(By.ID, "cert-trust").click()
            wait_until("the vSphere account is listed", lambda: driver.find_elements(By.CSS_SELECTOR, '#accounts-table tr[data-account="vc"]'))
            pinned = json.loads(pdk("accounts", "list", "--json"))
            vc = next(a for a in pinned if a["name"] == "vc")
            assert vc["config"]["thumbprint"].replace(":", "").upper() == shown.replace(":", ""), vc
            wait_until("its four VMs join the inventory", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms) + 4} VMs"))

            # Starts wait for the guest's tools, as chosen in Settings.
            tab(driver, "settings")
            wait_until("settings load", lambda: driver.find_element(By.NAME, "full_interval_ms").get_attribute("value") == "300")
            driver.find_element(By.NAME, "start_waits_for_tools").click()
            driver.find_element(By.CSS_SELECTOR, '#settings-form button[type="submit"]').click()
            wait_until("the settings are saved", lambda: driver.find_element(By.ID, "settings-result").text == "Saved.")
            tab(driver, "inventory")
            vc_vm = "DC0_H0_VM0"
            pdk("vm", "force-stop", vc_vm, "--yes")
            search(driver, vc_vm)
            wait_until("the vSphere VM shows stopped", lambda: row_text(driver, vc_vm, ".c-state") == "stopped")
            click("start the vSphere VM", lambda: row(driver, vc_vm).find_element(By.CSS_SELECTOR, 'button[data-action="start"]'))
            wait_until("powered on, the row waits for the guest's tools", lambda: "waiting for guest tools" in row_text(driver, vc_vm, ".c-status"))
            wait_until("then the start ends verified", lambda: row_text(driver, vc_vm, ".c-state") == "running" and "aiting" not in row_text(driver, vc_vm, ".c-status"))
            click("open its details", lambda: row(driver, vc_vm).find_element(By.CSS_SELECTOR, ".c-name"))
            tools = lambda: driver.find_element(By.XPATH, "//*[@id='details']//dt[text()='Guest tools']/following-sibling::dd[1]").text
            wait_until("its details show the tools running", lambda: tools() == "running")
            # What vCenter says about it is there too, and searchable.
            uuid = driver.find_element(By.XPATH, "//*[@id='details']//dt[text()='Instance UUID']/following-sibling::dd[1]").text
            assert len(uuid) == 36, uuid
            click("close the details", lambda: driver.find_element(By.CSS_SELECTOR, "#details .close"))
            search(driver, uuid)
            wait_until("a search by instance UUID finds just that VM", lambda: "(1 shown)" in driver.find_element(By.ID, "summary").text)
            assert row(driver, vc_vm), "the VM is the one shown"
            search(driver, "")

            tab(driver, "accounts")
            click("remove the vSphere account", lambda: driver.find_element(By.CSS_SELECTOR, '#accounts-table tr[data-account="vc"]').find_element(By.XPATH, ".//button[text()='Remove']"))
            driver.find_element(By.ID, "confirm-ok").click()
            wait_until("the vSphere account is gone", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms)} VMs"))
        finally:
            vcsim.terminate()

        # Settings: switching drift notifications off is remembered.
        tab(driver, "settings")
        wait_until("settings load", lambda: driver.find_element(By.NAME, "full_interval_ms").get_attribute("value") == "300")
        drift = driver.find_element(By.NAME, "drift")
        assert drift.is_selected()
        drift.click()
        driver.find_element(By.CSS_SELECTOR, '#settings-form button[type="submit"]').click()
        wait_until("the settings are saved", lambda: driver.find_element(By.ID, "settings-result").text == "Saved.")
        tab(driver, "inventory")
        tab(driver, "settings")
        wait_until("the choice survives a reload of the form", lambda: not driver.find_element(By.NAME, "drift").is_selected())
        tab(driver, "inventory")

        # The whole fleet again, with the first VM's details open, for the README.
        search(driver, "")
        wait_until("every VM is listed again", lambda: driver.find_element(By.ID, "summary").text.startswith(f"{len(vms)} VMs") and "shown" not in driver.find_element(By.ID, "summary").text)
        wait_until("the stopped VM is in view", lambda: row(driver, ui_vm))
        row(driver, ui_vm).find_element(By.CSS_SELECTOR, ".c-name").click()
        wait_until("its details are open", lambda: driver.find_elements(By.CSS_SELECTOR, '#details .history li[data-to="stopped"]'))
        SCREENSHOT.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
        print(f"e2e: all checks passed; screenshot in {SCREENSHOT}")
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"e2e FAILED: {e}", file=sys.stderr)
        sys.exit(1)

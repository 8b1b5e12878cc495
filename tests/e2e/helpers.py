"""What the end-to-end scenario does to the window, as a person would:
find rows, click, press keys, wait for what should appear."""

import json
import os
import subprocess
import time
from pathlib import Path

from selenium.common.exceptions import ElementNotInteractableException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[2]
PDK = ROOT / "target" / "debug" / "pdk"
DATA = os.environ["POWERDECK_DATA_DIR"]
PATIENCE = 40.0


class Element(WebElement):
    """WebKitWebDriver reports no text at all for an element styled
    `overflow: hidden` (every grid cell, so that long text ends in an
    ellipsis), and its idea of "displayed" follows the same rule. Ask the
    page what it renders instead."""

    @property
    def text(self):
        return self.parent.execute_script("return arguments[0].innerText", self).strip()

    def is_displayed(self):
        return self.parent.execute_script(
            "const e = arguments[0]; if (e.closest('[hidden]')) return false;"
            "const cs = getComputedStyle(e); return cs.display !== 'none' && cs.visibility !== 'hidden' && e.getClientRects().length > 0", self)


# WebKit answers a screenshot after its next presentation update, and a
# page where nothing changes (Settings, Accounts, Schedules: no ticking
# clock) may never have one, so the command would wait forever. A 1-pixel,
# nearly transparent element changes every frame for as long as the
# screenshot takes (at most a minute), then is removed; it shows in no
# screenshot.
REPAINT_START = """
  let el = document.getElementById('e2e-repaint');
  if (!el) {
    el = document.createElement('div');
    el.id = 'e2e-repaint';
    el.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;opacity:0.01';
    document.body.appendChild(el);
  }
  window.__e2eRepaint = true;
  const until = performance.now() + 60000;
  const tick = () => {
    el.style.opacity = el.style.opacity === '0.01' ? '0.02' : '0.01';
    if (window.__e2eRepaint && performance.now() < until) requestAnimationFrame(tick); else el.remove();
  };
  requestAnimationFrame(tick);
"""
REPAINT_STOP = "window.__e2eRepaint = false;"


def save_screenshot(driver, path):
    driver.execute_script(REPAINT_START)
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.execute_script(REPAINT_STOP)


def pdk(*args):
    out = subprocess.run([str(PDK), "--data-dir", DATA, *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"pdk {args} failed: {out.stderr}")
    return out.stdout


def vms():
    return {v["name"]: v for v in json.loads(pdk("vms", "list", "--json"))}


def latest_op(name):
    """A VM's newest operation, as `pdk ops --json` gives it."""
    return json.loads(pdk("ops", name, "--json", "--limit", "1"))[0]


def wait_until(what, check, patience=PATIENCE):
    deadline = time.time() + patience
    last_error = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except (StaleElementReferenceException, NoSuchElementException) as e:
            # The virtualised grid reused the row, or a row's actions are not
            # drawn yet (they appear once its own operation has settled).
            last_error = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what} ({last_error})")


def click(what, find):
    """Click what `find` returns, finding it again if a re-render replaced it,
    and scrolled to the middle of its view first (a page's own scroll can
    leave a button at an edge WebKit will not click at)."""
    def attempt():
        el = find()
        el.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        try:
            el.click()
        except ElementNotInteractableException:
            return False
        return True

    wait_until(what, attempt)


def keys(driver, *sequence):
    """Keys sent to whatever has the focus, as a keyboard would."""
    ActionChains(driver).send_keys(*sequence).perform()


def shift_key(driver, key):
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(key).key_up(Keys.SHIFT).perform()


def focused(driver):
    return driver.execute_script("const e = document.activeElement; return e ? (e.id || e.getAttribute('data-item') || e.tagName) : null")


def row(driver, name):
    rows = driver.find_elements(By.CSS_SELECTOR, f'.row[data-vm-name="{name}"]:not([hidden])')
    return rows[0] if rows else None


def row_text(driver, name, cell):
    r = row(driver, name)
    return r.find_element(By.CSS_SELECTOR, cell).text if r else ""


def settle(driver):
    """Wait for the window to draw what it was just told (it draws on the next animation frame)."""
    driver.execute_async_script("const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done()))")


def search(driver, text):
    box = driver.find_element(By.ID, "search")
    driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
    if text:
        box.send_keys(text)
    settle(driver)


def tab(driver, view):
    driver.find_element(By.CSS_SELECTOR, f'.tab[data-view="{view}"]').click()


def summary(driver):
    return driver.find_element(By.ID, "summary").text.replace("\u2009", "")


def select_only(driver, *names):
    """Select exactly these VMs with their checkboxes (each found by a search)."""
    clear_selection(driver)
    for name in names:
        search(driver, name)
        wait_until(f"{name}'s row is shown", lambda: row(driver, name))
        click(f"select {name}", lambda: row(driver, name).find_element(By.CSS_SELECTOR, ".c-sel input"))
    search(driver, "")
    wait_until(f"{len(names)} selected", lambda: driver.find_element(By.ID, "selection-count").text.startswith(f"{len(names)} selected"))


def clear_selection(driver):
    driver.execute_script("document.getElementById('clear-selection').click()")


def power_menu(driver):
    """Open the toolbar's Power menu; returns {action: (enabled, hint)}."""
    driver.find_element(By.ID, "power-button").click()
    wait_until("the Power menu opens", lambda: driver.find_element(By.ID, "menu").is_displayed())
    return menu_items(driver)


def menu_items(driver):
    """{item: (enabled, hint)}, read in one script: the menu follows the
    VMs' state and may be redrawn between two WebDriver calls."""
    items = driver.execute_script("""
        return [...document.querySelectorAll('#menu [role="menuitem"]')].map((b) => [
            b.dataset.item, b.getAttribute('aria-disabled') !== 'true', b.querySelector('.menu-hint')?.textContent ?? '']);
    """)
    return {item: (enabled, hint) for item, enabled, hint in items}


def menu_open(driver):
    return driver.find_element(By.ID, "menu").is_displayed()


def dialog_open(driver, dialog_id="confirm"):
    return driver.find_element(By.ID, dialog_id).get_attribute("open") is not None


def dismiss_every_way(driver, open_dialog, nothing_happened, what, dialog_id="confirm", cancel_id="confirm-cancel", meddle=None):
    """Open a dialog and leave it by Escape, its Cancel (or Close) button, a
    click outside and Enter on the (initially focused) Cancel: each must say
    no, however many dialogs were confirmed before. `meddle` changes
    something inside first (a choice that must not be applied)."""
    def outside():
        dlg = driver.find_element(By.ID, dialog_id)
        ActionChains(driver).move_to_element_with_offset(dlg, 0, -(dlg.size["height"] // 2) - 20).click().perform()

    ways = {
        "Escape": lambda: keys(driver, Keys.ESCAPE),
        "Cancel": lambda: driver.find_element(By.ID, cancel_id).click(),
        "a click outside": outside,
        "Enter on the focused Cancel": lambda: keys(driver, Keys.ENTER),
    }
    for way, dismiss in ways.items():
        open_dialog()
        wait_until(f"the {what} dialog opens", lambda: dialog_open(driver, dialog_id))
        assert focused(driver) == cancel_id, f"{what}: the initial focus is on {cancel_id}, not {focused(driver)!r}"
        title = driver.find_element(By.ID, dialog_id).get_attribute("aria-labelledby")
        assert title and driver.find_element(By.ID, title).text.strip(), f"{what}: the dialog has a title"
        if meddle:
            meddle()
            driver.execute_script("document.getElementById(arguments[0]).focus()", cancel_id)
        dismiss()
        wait_until(f"{way} closes the {what} dialog", lambda: not dialog_open(driver, dialog_id))
        # Give a wrongly confirmed action time to reach the engine before checking.
        time.sleep(1.0)
        assert nothing_happened(), f"{way} in the {what} dialog performed the action"


def no_operation_on(*names):
    return lambda: all(not json.loads(pdk("ops", name, "--json")) for name in names)


def notifications():
    """What reached the notification daemon (dunst), newest first."""
    out = subprocess.run(["dunstctl", "history"], capture_output=True, text=True)
    if out.returncode != 0:
        return []
    data = json.loads(out.stdout)
    items = data.get("data", [[]])[0]
    return [(i["summary"]["data"], i["body"]["data"]) for i in items]


def grid_order(driver):
    """Every row of the grid as [name, state text] in the order shown, read
    by scrolling it from top to bottom (only the rows in view exist)."""
    return driver.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const grid = document.getElementById('grid');
      const seen = new Map();
      const keep = grid.scrollTop;
      const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      (async () => {
        for (let top = 0; ; top += Math.max(40, grid.clientHeight / 2)) {
          grid.scrollTop = top;
          await frame();
          for (const r of grid.querySelectorAll('.row:not([hidden])'))
            seen.set(Number(r.getAttribute('aria-rowindex')), [r.dataset.vmName, r.querySelector('.c-state .badge').textContent]);
          if (top >= grid.scrollHeight) break;
        }
        grid.scrollTop = keep;
        done([...seen.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
      })();
    """)


def run(main, name):
    """Run a scenario as a script: an assertion fails it with its message and
    where it was raised, not a traceback."""
    import sys
    import traceback
    try:
        main()
    except AssertionError as e:
        where = traceback.extract_tb(e.__traceback__)
        print(f"{name} FAILED: {e}\n  at " + " ← ".join(f"{f.name}:{f.lineno}" for f in reversed(where[1:])), file=sys.stderr)
        sys.exit(1)


def session(app, *args):
    """A WebDriver session on the app (tauri-driver on port 4444)."""
    from selenium import webdriver
    from selenium.webdriver.common.options import ArgOptions
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": str(app), "args": list(args)})
    return webdriver.Remote(command_executor="http://127.0.0.1:4444", options=options, web_element_cls=Element)

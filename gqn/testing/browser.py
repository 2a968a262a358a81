"""A real headless Chromium for tests of ``gqn view``'s page (Selenium and the system's
``chromium`` and ``chromedriver``; ``scripts/install.sh --browser`` installs them where apt
is available).

Also a command for the README's screenshot of the viewer::

    python -m gqn.testing.browser URL OUT.png   # waits for the first prediction
"""
import base64
import io
import os
import re
import shutil
import sys
import time

import numpy as np

#: Where Debian's and Ubuntu's packages put them, then PATH.
CHROMIUM = ('chromium', 'chromium-browser', 'google-chrome')
DRIVER = ('chromedriver',)
VIEWPOINT = re.compile(r'viewpoint\s+((?:-?[0-9.]+(?:e[-+]?[0-9]+)?\s*){7})')


def _which(names):
    for name in names:
        path = shutil.which(name) or shutil.which(name, path='/usr/lib/chromium:/usr/bin')
        if path:
            return path
    return None


def missing():
    """``None`` when a headless Chromium can be driven here, else one line saying what
    is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (pip install selenium)'
    if _which(CHROMIUM) is None or _which(DRIVER) is None:
        return ('no chromium/chromedriver (Debian: apt-get install chromium chromium-driver, '
                'or bash scripts/install.sh --browser)')
    return None


def open_chromium(width=1400, height=900):
    """A Selenium driver of a headless Chromium with WebGL (SwiftShader) and the browser
    console logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROMIUM)
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--window-size=%d,%d' % (width, height), '--use-angle=swiftshader',
                '--enable-unsafe-swiftshader', '--disable-gpu-sandbox'):
        options.add_argument(arg)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(_which(DRIVER)), options=options)


def wait_for(condition, timeout=60.0, what='the page'):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds."""
    end = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > end:
            raise TimeoutError('timed out after %.0f s waiting for %s' % (timeout, what))
        time.sleep(0.1)


def page_viewpoint(driver):
    """The viewpoint the page says its prediction is for (float32 ``(7,)``), or ``None``."""
    m = VIEWPOINT.search(driver.find_element('tag name', 'body').text)
    return np.array(m.group(1).split(), dtype=np.float32) if m else None


def shown_image(driver, label):
    """The pixels of the page's image under the label ``label``: uint8 ``(H, W, 3)`` as
    decoded by the browser (its PNG, drawn on a canvas and read back)."""
    from PIL import Image
    img = driver.find_element(
        'xpath', "//*[normalize-space(text())='%s']/following::img[1]" % label)
    url = driver.execute_script(
        'const img = arguments[0];'
        'const c = document.createElement("canvas");'
        'c.width = img.naturalWidth; c.height = img.naturalHeight;'
        'c.getContext("2d").drawImage(img, 0, 0);'
        'return c.toDataURL("image/png");', img)
    data = base64.b64decode(url.split(',', 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))


def console_errors(driver):
    """The browser console's messages of level SEVERE since the last call."""
    return [e for e in driver.get_log('browser') if e.get('level') == 'SEVERE']


def screenshot(url, path, timeout=120.0, width=1400, height=1000):
    """Open ``url`` (a running ``gqn view``), wait for its first prediction, close the
    notifications (headless Chromium's software WebGL has one), save a PNG."""
    driver = open_chromium(width, height)
    try:
        driver.get(url)
        wait_for(lambda: page_viewpoint(driver) is not None, timeout, 'the first prediction')
        time.sleep(2.0)  # let the frustum images arrive
        driver.execute_script(
            'document.querySelectorAll("[class*=Notification] button").forEach('
            'b => b.click());')
        time.sleep(1.0)
        driver.save_screenshot(path)
    finally:
        driver.quit()


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: python -m gqn.testing.browser URL OUT.png')
    reason = missing()
    if reason:
        sys.exit(reason)
    screenshot(sys.argv[1], os.path.abspath(sys.argv[2]))
    print('wrote', sys.argv[2])

// Starts the Yew UI. A file of its own because the CSP allows no inline script.
import init from './bench_ui.js';
init();

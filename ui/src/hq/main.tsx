// The HQ console's entry point (hq.html). Served by `sila-hq serve` under /console/.
import { createRoot } from "react-dom/client";
import "../shared/styles.css";
import "./hq.css";
import { App } from "./App";

createRoot(document.getElementById("root")!).render(<App />);

import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { App } from './views/app.tsx';

render(<App />, document.getElementById('app')!);

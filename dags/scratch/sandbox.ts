// Work in progress: .dagprocignore keeps scratch/ out of the processor, so this DAG does not
// appear until the file moves out of this folder.
import { dag, task } from '@dagproc/sdk';

export default dag({
  dagId: 'scratch_sandbox',
  description: 'Trying out a new feed before it is ready',
  schedule: null,
  tasks: [task({ taskId: 'try_new_feed' })],
});

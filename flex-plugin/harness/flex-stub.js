// A stub of the Flex UI for the plugin's test harness: window.Twilio.Flex
// with what the plugin uses (Plugins.init, TaskCanvasHeader.Content.add)
// and a manager holding the agent's token and the Flex configuration.
// The page's query names Expert Hub (?hub=), the sandbox that hands out
// the agent's token (?sandbox=), and the task (?task=, ?attributes=).
(function () {
  'use strict';
  var q = new URLSearchParams(window.location.search);
  var hub = q.get('hub');
  var sandbox = q.get('sandbox');
  var task = {
    taskSid: q.get('task') || 'WT00000000000000000000000000000001',
    attributes: JSON.parse(q.get('attributes') || '{}'),
  };
  var added = [];
  var manager = {
    user: { identity: '', token: '' },
    serviceConfiguration: { ui_attributes: { expertHubUrl: hub } },
  };
  var flex = {
    Plugins: {
      // Flex hands loadPlugin's class to Plugins.init, which makes the
      // plugin and calls its init.
      init: function (Plugin) {
        Promise.resolve()
          .then(function () {
            return new Plugin().init(flex, manager);
          })
          .then(render, function (e) {
            window.harnessError = String(e);
          });
      },
    },
    TaskCanvasHeader: {
      Content: {
        add: function (element, options) {
          added.push({ element: element, options: options || {} });
        },
      },
    },
  };
  window.Twilio = { Flex: flex };

  // render mounts what the plugin added to the header, handing it the
  // task as Flex's TaskCanvasHeader does.
  function render() {
    document.getElementById('task-title').innerHTML = '';
    var title = document.getElementById('task-title');
    title.textContent = (task.attributes.name || task.attributes.from || 'Task') + ' ';
    var small = document.createElement('small');
    small.textContent = task.taskSid;
    title.appendChild(small);
    document.getElementById('task-body').textContent = 'SMS from ' + (task.attributes.from || '') + ': "My watch needs a repair."';
    var children = added.map(function (a, i) {
      return React.cloneElement(a.element, { task: task, key: a.element.key || String(i) });
    });
    ReactDOM.render(React.createElement(React.Fragment, null, children), document.getElementById('task-canvas-header'));
    window.harnessReady = true;
  }

  // The agent signs in: Flex holds the token before plugins load.
  fetch(sandbox + '/sandbox/flex-token')
    .then(function (r) {
      if (!r.ok) throw new Error('flex-token: HTTP ' + r.status);
      return r.json();
    })
    .then(function (t) {
      manager.user.token = t.token;
      manager.user.identity = t.identity;
      var s = document.createElement('script');
      s.src = '/build/plugin-expert-hub-transfer.js';
      s.onerror = function () { window.harnessError = 'plugin bundle did not load'; };
      document.body.appendChild(s);
    })
    .catch(function (e) { window.harnessError = String(e); });
})();
